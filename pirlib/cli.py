"""The `pir` command. Each subcommand is a thin call into pirlib; errors are one line and a non-zero exit.

Each ``cmd_*`` imports what it runs inside the function: importing every subcommand's modules at the top
(pandas, DuckDB, jinja2, the Jira client, Voila's server) takes `pir --help` from about 0.3 s to 3.5 s
(measured for issue 14), and a command should only pay for what it runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pirlib.config import Settings, describe, load_settings
from pirlib.errors import PirError
from pirlib.terminal import terminal_text

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the default prints the whole usage block first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"pir: error: {terminal_text(message)} (see `{self.prog} --help`)\n")


def _settings_epilog() -> str:
    lines = ["settings (environment variable, or the lower-case key in pir.toml):"]
    lines += [f"  {env:<28} {text}" for env, text in describe()]
    return "\n".join(lines)


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import configure, db
    from pirlib.failure_modes import taxonomy

    report = []
    if settings.jira_url:  # offline without Jira; with it, a field problem shows before anything is written
        from pirlib.jira_sync.client import connect
        from pirlib.jira_sync.fields import check_site

        report = check_site(connect(settings), settings)
    modes = taxonomy.load(settings.failure_mode_taxonomy)  # a bad file fails before the database is touched
    applied = db.init(settings)
    with db.connect(settings) as con:
        configure.apply(con, settings, modes)
    what = ", ".join(applied) if applied else "schema already up to date"
    _echo(f"initialised {db.describe(settings)} ({what})")
    with db.connect(settings, read_only=True) as con:
        source, version, modes = db.one(
            con, "SELECT min(source), min(taxonomy_version), count(*) FROM failure_mode_taxonomy"
        )
    _echo(f"failure-mode taxonomy version {version}, {modes} modes, from {source}")
    _echo_lines(report)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import db, demo

    as_of = args.as_of or settings.current_date()
    counts = demo.load_demo(settings, regenerate=args.regenerate, force=args.force, as_of=as_of)
    summary = ", ".join(f"{count} {name}" for name, count in counts.items())
    _echo(f"loaded the sample data as of {as_of} into {db.describe(settings)}: {summary}")
    return 0


def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import db, snapshot
    from pirlib.jira_sync import sync

    result = sync.run(settings, full=args.full)
    _echo_lines(result.field_report)
    _echo(result.summary())
    if db.team_mode(settings):  # boards and analysts see what this sync wrote
        try:
            published = snapshot.publish(settings)
        except PirError as exc:
            raise PirError(f"the sync is saved in PostgreSQL, but the read model was not refreshed: {exc}") from None
        _echo(published.summary())
    return 0


def cmd_snapshot(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import db, snapshot

    if not db.team_mode(settings):
        if args.every is not None:
            raise PirError(
                "pir snapshot --every keeps team mode's read model fresh, and PIR_DATABASE_URL is not set; set it "
                "(solo needs no schedule: boards and analysts read the database itself)"
            )
        _echo(f"nothing to do: solo mode (PIR_DATABASE_URL is not set), boards and analysts read {settings.db} itself")
        return 0
    if args.every is not None:
        return snapshot.every(settings, args.every, lambda line, err: _echo(line, err=err, flush=True))
    _echo(snapshot.publish(settings).summary())
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import serve

    return serve.serve(settings, port=args.port, open_browser=args.open)


def cmd_guide(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import serve

    return serve.guide(settings, port=args.port, open_browser=args.open)


def cmd_lab(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import serve

    return serve.lab(settings, port=args.port)


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import db, export

    with db.read_model(settings) as con:
        written = export.to_parquet(con, Path(args.parquet))
    _echo(written.summary())
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import configure
    from pirlib.timeline import events

    with configure.open_configured(settings, create=False) as con:  # an import needs an incident, so a database
        counts = events.import_file(con, args.kind, args.incident, Path(args.file), tz=args.tz)
    _echo(f"imported {args.kind} into {args.incident} from {args.file}: {events.describe_import(counts)}")
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import configure
    from pirlib.review.wrap_up import quality_report

    # One connection for the whole report, however many reviews it checks; read-write so that pending
    # migrations and the configured deadlines apply, but a check never creates the database.
    with configure.open_configured(settings, create=False) as con:
        report = quality_report(con, settings, args.incident)
    lines = []
    for key, gaps in report:
        lines.append(f"{key}: " + (f"{len(gaps)} gaps" if gaps else "complete"))
        lines.extend(f"  - {gap}" for gap in gaps)
    incomplete = sum(1 for _, gaps in report if gaps)
    lines.append(f"{len(report)} review{'s' if len(report) != 1 else ''} checked, {incomplete} with gaps")
    _echo_lines(lines)
    return 3 if args.strict and incomplete else 0


def cmd_push(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import configure
    from pirlib.jira_sync import push

    configure.prepare(settings)
    result = push.push(settings, args.incident)
    _echo_lines(outcome.line() for outcome in result.outcomes)
    _echo(result.summary())
    if result.failed:
        _echo(
            f"pir: error: {len(result.failed)} draft(s) failed; fix what Jira said and run `pir push` again", err=True
        )
        return EXIT_ERROR
    return 0


def cmd_remind(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import configure, reminders

    if not args.dry_run:  # a dry run writes nothing
        configure.prepare(settings)
    result = reminders.remind(settings, dry_run=args.dry_run, to=args.to)
    _echo_lines(result.lines())
    if result.failed:
        _echo(
            f"pir: error: {len(result.failed)} reminder(s) could not be sent; they are retried on the next run",
            err=True,
        )
        return EXIT_ERROR
    return 0


def cmd_digest(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import configure, digest

    if not args.dry_run:  # a dry run writes nothing
        configure.prepare(settings)
    result = digest.send_digest(settings, dry_run=args.dry_run)
    _echo_lines("\n".join(result.lines(dry_run=args.dry_run)).splitlines())
    if result.failed:
        _echo(
            f"pir: error: the digest could not be sent by {', '.join(result.failed)}; the next run this week sends it",
            err=True,
        )
        return EXIT_ERROR
    return 0


def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import configure
    from pirlib.publish import pipeline

    configure.prepare(settings)
    result = pipeline.publish(
        settings,
        args.incident,
        formats=args.format or list(pipeline.FORMATS),
        out_dir=args.out,
        to_confluence=args.confluence,
        doc_url=args.doc_url,
    )
    _echo_lines(result.lines())
    if result.published_at is None:
        _echo("to publish: --confluence (pir creates or updates the page) or --doc-url URL (published elsewhere)")
    _echo_lines(
        (
            f"pir: error: {failure}; run `pir publish` again to retry (the page is not duplicated)"
            for failure in result.failures
        ),
        err=True,
    )
    return EXIT_ERROR if result.failures else 0


def cmd_sql(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import sql_shell

    fmt = "csv" if args.csv else "json" if args.json else "table"
    terminal = sys.stdout.isatty()
    if args.query is not None:
        sys.stdout.write(sql_shell.render(sql_shell.run(settings, args.query), fmt, terminal=terminal))
        return 0
    if sql_shell.interactive(sys.stdin):
        _echo(f"pir sql: {settings.db}, read-only; end statements with ';', `.help` for commands, Ctrl-D to leave")
        # At a prompt an error was shown where it happened and the session went on: leaving it is a success.
        sql_shell.shell(
            settings, sql_shell.prompt_lines(), sys.stdout, sys.stderr, fmt=fmt, terminal=terminal, stop_on_error=False
        )
        return 0
    return sql_shell.shell(
        settings, sql_shell.stdin_lines(sys.stdin), sys.stdout, sys.stderr, fmt=fmt, terminal=terminal
    )


def cmd_regulator_filed(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import configure
    from pirlib.incidents import resolve_incident
    from pirlib.publish import pipeline
    from pirlib.review.clock import now

    with configure.open_configured(settings) as con:
        incident_id, key = resolve_incident(con, args.incident)
        pipeline.record_regulator_filing(con, incident_id, None if args.undo else now(settings))
    _echo(f"{key}: regulator filing " + ("cleared: the compliance item is open again" if args.undo else "recorded"))
    return 0


def cmd_roadmap(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import db, roadmap

    with db.read_model(settings) as con:
        path, counts = roadmap.write_roadmap(con, settings, args.out)
    _echo(
        f"wrote {path}: {counts['actions']} actions, {counts['runbooks']} runbook updates, "
        f"{counts['exercises']} exercises"
    )
    return 0


def cmd_similar(settings: Settings, args: argparse.Namespace) -> int:
    from pirlib import db
    from pirlib.failure_modes import similar
    from pirlib.incidents import resolve_incident

    with db.read_model(settings) as con:
        query, key = resolve_incident(con, args.incident)
        found = similar.similar(con, query, args.k)
        (summary,) = db.one(con, "SELECT summary FROM incidents WHERE issue_id = ?", [query])
    _echo(
        f"earlier incidents most like {_plain(key)} ({_plain(summary)}):"
        if len(found)
        else f"{_plain(key)}: no similar earlier incident"
    )
    for row in found.to_dict("records"):
        _echo(
            f"{row['score']:.2f}  {_plain(row['key'])}  {row['occurred_at']:%Y-%m-%d}  {_plain(row['service'])}  "
            f"{_plain(row['failure_mode'])}  {_plain(row['summary'])}"
        )
        _echo(f"      {_plain(row['reason'])}")
    return 0


def _plain(value: object) -> str:
    """A field of Jira text in a line: '-' when empty (control characters go when the line is printed)."""
    return str(value or "-")


def _echo(line: str, *, err: bool = False, flush: bool = False) -> None:
    """Print one line of a command's output; every command prints through here (see pirlib.terminal)."""
    _echo_lines([line], err=err, flush=flush)


def _echo_lines(lines: Iterable[str], *, err: bool = False, flush: bool = False) -> None:
    """Print lines in one write: `pir check` at 50k incidents prints 94,000 (0.4 s as one print each)."""
    text = "".join(f"{terminal_text(line)}\n" for line in lines)
    stream = sys.stderr if err else sys.stdout
    stream.write(text)
    if flush:
        stream.flush()


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pir",
        description="pir: post-incident review workbench (Jira -> DuckDB, guided reviews, dashboards).",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, func: Callable[[Settings, argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help, description=help)
        command.set_defaults(func=func)
        return command

    add("init", cmd_init, "create the DuckDB file or apply pending migrations")
    demo = add("demo", cmd_demo, "load the generated sample Jira site into the database (offline)")
    demo.add_argument("--regenerate", action="store_true", help="rewrite data/sample/ before loading")
    demo.add_argument(
        "--force",
        action="store_true",
        help="load the sample even into a database that holds incidents synced from Jira",
    )
    demo.add_argument(
        "--as-of",
        type=_day,
        metavar="YYYY-MM-DD",
        help="the day the sample is a snapshot of (default: today, or PIR_TODAY when set)",
    )
    sync = add("sync", cmd_sync, "load incidents, timelines and actions from Jira (incremental)")
    sync.add_argument("--full", action="store_true", help="re-read everything and flag issues deleted in Jira")
    snap = add(
        "snapshot",
        cmd_snapshot,
        "team mode: copy PostgreSQL into the DuckDB read model boards and analysts read (PIR_DB), replaced whole",
    )
    snap.add_argument(
        "--every",
        type=_seconds,
        metavar="SECONDS",
        help="run for good, a snapshot every SECONDS (for a Hub service or a systemd unit); a failed round is one "
        "error line and the next round tries again; SIGTERM stops it",
    )
    serve = add("serve", cmd_serve, "serve the dashboards with Voila on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    serve.add_argument("--open", action="store_true", help="open a browser")
    guide = add("guide", cmd_guide, "serve the facilitator's guide as an app with Voila on 127.0.0.1")
    guide.add_argument("--port", type=int, default=8867, help="port (default 8867)")
    guide.add_argument("--open", action="store_true", help="open a browser")
    lab = add("lab", cmd_lab, "open JupyterLab on notebooks/ (the guide as a notebook, and your own)")
    lab.add_argument("--port", type=int, default=8888, help="port (default 8888)")
    check = add("check", cmd_check, "review quality: missing milestones, action owners and metrics, notes, stages")
    check.add_argument("incident", nargs="?", metavar="INCIDENT", help="key or id (default: every open review)")
    check.add_argument("--strict", action="store_true", help="exit 3 when any review has gaps")
    export = add("export", cmd_export, "export every table and view for analysts")
    export.add_argument("--parquet", required=True, metavar="DIR", help="write one Parquet file per table here")
    imp = add("import", cmd_import, "add a chat transcript, alert history or change list to an incident's timeline")
    imp.add_argument("kind", choices=["chat", "alerts", "changes"], help="what the file holds")
    imp.add_argument("incident", metavar="INCIDENT", help="incident key (INC-123) or Jira issue id")
    imp.add_argument("file", metavar="FILE", help="Slack export folder or JSON, .txt transcript, CSV or JSON")
    imp.add_argument("--tz", default=None, help="time zone of times written without an offset (default UTC)")
    push = add("push", cmd_push, "create Jira issues from the SMART action drafts (safe to re-run: never a duplicate)")
    push.add_argument("incident", metavar="INCIDENT", nargs="?", help="incident key or id (default: every incident)")
    remind = add("remind", cmd_remind, "remind owners of actions due soon or overdue (Slack webhook or e-mail)")
    remind.add_argument("--dry-run", action="store_true", help="print what would be sent; send and record nothing")
    remind.add_argument(
        "--to",
        action="append",
        metavar="ADDRESS",
        help="by SMTP, where reminders go for actions whose owner has no e-mail in Jira "
        "(repeatable; default PIR_SMTP_FROM); owners with one get theirs directly",
    )
    digest = add(
        "digest",
        cmd_digest,
        "send the weekly leadership digest (what needs attention, last week's numbers) "
        "to PIR_DIGEST_WEBHOOK and/or PIR_DIGEST_TO, once per ISO week per channel",
    )
    digest.add_argument("--dry-run", action="store_true", help="print the digest; send and record nothing")
    publish = add(
        "publish",
        cmd_publish,
        "render the postmortem (Markdown, HTML, Confluence storage format) and "
        "publish it with its status summary and customer e-mail",
    )
    publish.add_argument("incident", metavar="INCIDENT", help="incident key or id")
    publish.add_argument(
        "--format",
        action="append",
        choices=["md", "html", "confluence"],
        help="file format to write (repeatable; default all three)",
    )
    publish.add_argument("--out", metavar="DIR", help="folder for the files (default PIR_PUBLISHED_DIR)")
    where = publish.add_mutually_exclusive_group()
    where.add_argument(
        "--confluence",
        action="store_true",
        help="create or update the page in PIR_CONFLUENCE_SPACE under PIR_CONFLUENCE_PARENT",
    )
    where.add_argument("--doc-url", metavar="URL", help="record a postmortem published elsewhere at URL")
    sql = add("sql", cmd_sql, "query the database read-only: a query given, SQL piped in, or a prompt")
    sql.add_argument(
        "query",
        nargs="?",
        metavar="QUERY",
        help="SQL to run (default: read SQL from stdin, or a prompt with history at a terminal)",
    )
    sql_format = sql.add_mutually_exclusive_group()
    sql_format.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql_format.add_argument("--json", action="store_true", help="print a JSON array of rows instead of a table")
    filed = add(
        "regulator-filed",
        cmd_regulator_filed,
        "record that Compliance filed the regulator report (closes the compliance item)",
    )
    filed.add_argument("incident", metavar="INCIDENT", help="incident key or id")
    filed.add_argument("--undo", action="store_true", help="clear a filing recorded by mistake")
    roadmap = add(
        "roadmap",
        cmd_roadmap,
        "write the reliability roadmap: actions by failure mode and service, runbook updates, game-day exercises",
    )
    roadmap.add_argument("--out", metavar="FILE", help="where to write (default PIR_ROADMAP_PATH)")
    similar = add("similar", cmd_similar, "the earlier incidents most similar to one (text, service, failure mode)")
    similar.add_argument("incident", metavar="INCIDENT", help="incident key (INC-123) or Jira issue id")
    similar.add_argument("-k", type=_positive, default=5, help="how many to list (default 5)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        return args.func(settings, args)
    except PirError as exc:
        _echo(f"pir: error: {exc}", err=True)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader of the output went away (`pir sql ... | head`): nothing left to say, and no traceback
        # from the interpreter flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as exc:
        # A file error no command anticipated is still one line that names the path.
        from pirlib.files import os_error

        _echo(f"pir: error: {os_error(exc, doing='cannot use')}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _echo("pir: interrupted", err=True)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
