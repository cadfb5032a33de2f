"""`pir similar`: BM25 over incident text in DuckDB plus service and mode, earlier incidents only, with the
reason in words; on the sample the planted recurring pair ranks first."""

from __future__ import annotations

import pytest
from test_failure_modes import add_incidents, at

from pirlib import cli, db, demo, metrics, sample
from pirlib.errors import InputError
from pirlib.failure_modes import similar
from pirlib.ui import boards


def crafted(con) -> None:
    add_incidents(con, [
        {"issue_id": "q", "day": 50, "service": "api", "failure_mode": "Bad deploy",
         "summary": "Checkout timeouts after the gateway canary", "description": "the canary drained the pool"},
        {"issue_id": "same_all", "day": 40, "service": "api", "failure_mode": "Bad deploy",
         "summary": "Checkout timeouts after the gateway canary", "description": "canary drained the pool"},
        {"issue_id": "text_only", "day": 30, "service": "web", "failure_mode": "Network",
         "summary": "Checkout timeouts after the gateway canary", "description": "the canary drained the pool"},
        {"issue_id": "service_only", "day": 20, "service": "api", "failure_mode": "Network",
         "summary": "Unrelated disk alarm", "description": ""},
        {"issue_id": "via_notes", "day": 10, "service": "batch", "failure_mode": "Capacity",
         "summary": "Nightly job slow", "description": ""},
        {"issue_id": "nothing", "day": 5, "service": "batch", "failure_mode": "Capacity",
         "summary": "Printer jam", "description": ""},
        {"issue_id": "later", "day": 60, "service": "api", "failure_mode": "Bad deploy",
         "summary": "Checkout timeouts after the gateway canary", "description": "the canary drained the pool"},
        {"issue_id": "gone", "day": 45, "service": "api", "failure_mode": "Bad deploy", "deleted": True,
         "summary": "Checkout timeouts after the gateway canary", "description": "the canary drained the pool"},
    ])  # fmt: skip
    # Comments and review notes count as the incident's text.
    con.execute("INSERT INTO incident_events (event_id, incident_id, occurred_at, source, kind, text) VALUES"
                " ('c1', 'via_notes', ?, 'jira_comment', 'comment', 'gateway canary again')", [at(10)])
    con.execute("INSERT INTO review_notes (note_id, incident_id, segment, text) VALUES"
                " ('n1', 'via_notes', 'went_wrong', 'checkout timeouts were missed')")
    similar.refresh_index(con)  # as a sync does after writing incidents, comments and notes


def test_ranking_on_crafted_incidents(settings):
    with db.connect(settings) as con:
        crafted(con)
        found = similar.similar(con, "INC-q", k=10)
    # Text alone (another service and mode) beats a shared service alone; comments and notes are text.
    assert list(found["key"]) == ["INC-same_all", "INC-text_only", "INC-via_notes", "INC-service_only"]
    assert found["score"].is_monotonic_decreasing and found["score"].between(0, 1).all()
    best = found.iloc[0]
    assert best["same_service"] and best["same_mode"] and best["text_score"] > 0.8
    assert best["reason"].startswith("same service and mode; shared terms: ")
    assert set(best["shared_terms"]) <= {"checkout", "timeouts", "gateway", "canary", "drained", "pool"}
    assert "the" not in best["shared_terms"]  # stop word
    assert found.iloc[1]["reason"].startswith("shared terms: ")
    assert set(found.iloc[2]["shared_terms"]) == {"gateway", "canary", "checkout", "timeouts"}
    assert found.iloc[3]["reason"] == "same service (api)" and found.iloc[3]["text_score"] == 0


def test_k_limits_and_bad_input_is_one_line(settings):
    with db.connect(settings) as con:
        crafted(con)
        assert list(similar.similar(con, "q", k=1)["key"]) == ["INC-same_all"]  # by Jira id too
        assert similar.similar(con, "INC-nothing").empty  # the first incident has nothing before it
        with pytest.raises(InputError, match="^unknown incident 'INC-404': no incident has that key or id"):
            similar.similar(con, "INC-404")
        with pytest.raises(InputError, match="at least 1"):
            similar.similar(con, "INC-q", k=0)


def test_the_planted_recurring_pair_ranks_first_on_the_sample(settings, capsys, monkeypatch):
    demo.load_demo(settings)
    with db.connect(settings, read_only=True) as con:
        pair = con.execute(
            "SELECT key FROM incidents WHERE contains(description, ?) ORDER BY started_at",
            [sample.RECURRING_ROOT_CAUSE_MARKER],
        ).fetchall()
        assert len(pair) == 2
        (first,), (again,) = pair
        recurrence = con.execute("SELECT previous_key, within_window FROM v_failure_mode_recurrence WHERE key = ?",
                                 [again]).fetchone()  # fmt: skip
        found = similar.similar(con, again, k=3)
    assert recurrence == (first, True)  # a real recurrence: same service and mode within the window
    assert found.iloc[0]["key"] == first and found.iloc[0]["same_service"] and found.iloc[0]["same_mode"]
    assert found.iloc[0]["score"] > found.iloc[1]["score"]
    monkeypatch.setenv("PIR_DB", str(settings.db))
    assert cli.main(["similar", again, "-k", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"earlier incidents most like {again} (") and len(out) == 7
    assert f"  {first}  " in out[1] and out[2].strip().startswith("same service and mode; shared terms: ")
    assert cli.main(["similar", "INC-0"]) == 1
    assert capsys.readouterr().err.startswith("pir: error: unknown incident 'INC-0': no incident has that key or id")


def test_many_queries_share_one_pass(settings):
    with db.connect(settings) as con:
        crafted(con)
        many = similar.similar_to_many(con, ["q", "text_only"], k=2)
    assert list(many.groupby("query_key")["key"].apply(list).items()) == [
        ("INC-q", ["INC-same_all", "INC-text_only"]), ("INC-text_only", ["INC-via_notes", "INC-service_only"])]


def test_incidents_board_lists_similar_earlier_incidents_escaped_and_filtered(settings):
    with db.connect(settings) as con:
        crafted(con)
        con.execute("UPDATE incidents SET summary = summary || ' <script>x</script>' WHERE issue_id = 'same_all'")
        similar.refresh_index(con, ["same_all"])
    board = boards.load_board("incidents", settings)
    panel = board.contents(metrics.Filters())[-1]
    assert "Has this happened before?" in panel and "<h4>INC-q " in panel
    assert "same service and mode; shared terms: " in panel
    assert "<script>" not in panel and "&lt;script&gt;x&lt;/script&gt;" in panel
    only_web = board.contents(metrics.Filters(services=("web",)))[-1]  # the later incident's service
    assert "<h4>INC-q " not in only_web and "<h4>INC-text_only " in only_web
