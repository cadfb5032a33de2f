"""`pir export --parquet DIR`: incidents and events Hive-partitioned by year/month of creation, read back by
DuckDB with hive_partitioning=true row for row; every other table and view one file."""

from __future__ import annotations

from pirlib import db, demo, export


def test_hive_partitioned_export_reads_back_row_for_row(settings, tmp_path):
    demo.load_demo(settings)
    out = tmp_path / "parquet"
    (out / "incidents.parquet").parent.mkdir(parents=True)
    (out / "incidents.parquet").write_bytes(b"an older export's single file")
    with db.connect(settings, read_only=True) as con:
        export.to_parquet(con, out)
        export.to_parquet(con, out)  # a second export replaces the folders whole
    assert not (out / "incidents.parquet").exists() and not list(out.glob(".*"))
    months = sorted(p.relative_to(out / "incidents").as_posix() for p in (out / "incidents").glob("*/*"))
    assert "year=2025/month=9" in months and all(
        m.startswith(("year=2024/", "year=2025/", "year=2026/")) for m in months
    )
    with db.connect(settings, read_only=True) as con:
        for table, column in export.PARTITIONED.items():
            con.execute(
                f"CREATE TEMP VIEW read_back_{table} AS SELECT * FROM read_parquet("
                f"'{(out / table).as_posix()}/**/*.parquet', hive_partitioning = true)"
            )
            columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
            listed = ", ".join(f'"{c}"' for c in columns)
            count = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert con.execute(f"SELECT count(*) FROM read_back_{table}").fetchone()[0] == count > 0
            for first, second in ((table, f"read_back_{table}"), (f"read_back_{table}", table)):
                missing = con.execute(
                    f"SELECT {listed} FROM {first} EXCEPT ALL SELECT {listed} FROM {second}"
                ).fetchall()
                assert missing == [], (table, missing[:2])
            # The partition columns are the UTC year and month of creation.
            wrong = con.execute(
                f"SELECT count(*) FROM read_back_{table} WHERE year <> year({column}) OR month <> month({column})"
            ).fetchone()[0]
            assert wrong == 0
        assert con.execute(
            "SELECT (SELECT count(*) FROM actions) = (SELECT count(*) FROM read_parquet(?))",
            [str(out / "actions.parquet")],
        ).fetchone() == (True,)


def test_the_summary_counts_the_files_on_disk_and_the_tables(settings, tmp_path):
    demo.load_demo(settings)
    out = tmp_path / "parquet"
    with db.connect(settings, read_only=True) as con:
        written = export.to_parquet(con, out)
        names = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        }
    on_disk = sorted(out.rglob("*.parquet"))
    assert written.files == on_disk and len(on_disk) > len(names)  # the partitions are files too
    assert {t.name.removesuffix(".parquet") for t in written.tables} == names
    assert written.summary().startswith(f"wrote {len(on_disk)} Parquet files for {len(names)} tables and views to ")
