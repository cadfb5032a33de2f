"""`pir similar`: BM25 over incident text in DuckDB plus service and mode, earlier incidents only, with the
reason in words; on the sample the planted recurring pair ranks first."""

from __future__ import annotations

import collections
import math
import re

import pytest
from support.fake_jira import FakeJira
from test_failure_modes import add_incidents, at
from test_sync import FAST

from pirlib import cli, configure, db, demo, metrics, sample
from pirlib.config import Secret, Settings
from pirlib.errors import InputError
from pirlib.failure_modes import manual, similar
from pirlib.jira_sync import sync
from pirlib.review import meeting
from pirlib.review.session import ReviewSession
from pirlib.ui import boards


def crafted(con) -> None:
    add_incidents(
        con,
        [
            {
                "issue_id": "q",
                "day": 50,
                "service": "api",
                "failure_mode": "Bad deploy",
                "summary": "Checkout timeouts after the gateway canary",
                "description": "the canary drained the pool",
            },
            {
                "issue_id": "same_all",
                "day": 40,
                "service": "api",
                "failure_mode": "Bad deploy",
                "summary": "Checkout timeouts after the gateway canary",
                "description": "canary drained the pool",
            },
            {
                "issue_id": "text_only",
                "day": 30,
                "service": "web",
                "failure_mode": "Network",
                "summary": "Checkout timeouts after the gateway canary",
                "description": "the canary drained the pool",
            },
            {
                "issue_id": "service_only",
                "day": 20,
                "service": "api",
                "failure_mode": "Network",
                "summary": "Unrelated disk alarm",
                "description": "",
            },
            {
                "issue_id": "via_notes",
                "day": 10,
                "service": "batch",
                "failure_mode": "Capacity",
                "summary": "Nightly job slow",
                "description": "",
            },
            {
                "issue_id": "nothing",
                "day": 5,
                "service": "batch",
                "failure_mode": "Capacity",
                "summary": "Printer jam",
                "description": "",
            },
            {
                "issue_id": "later",
                "day": 60,
                "service": "api",
                "failure_mode": "Bad deploy",
                "summary": "Checkout timeouts after the gateway canary",
                "description": "the canary drained the pool",
            },
            {
                "issue_id": "gone",
                "day": 45,
                "service": "api",
                "failure_mode": "Bad deploy",
                "deleted": True,
                "summary": "Checkout timeouts after the gateway canary",
                "description": "the canary drained the pool",
            },
        ],
    )
    # Comments and review notes count as the incident's text.
    con.execute(
        "INSERT INTO incident_events (event_id, incident_id, occurred_at, source, kind, text) VALUES"
        " ('c1', 'via_notes', ?, 'jira_comment', 'comment', 'gateway canary again')",
        [at(10)],
    )
    con.execute(
        "INSERT INTO review_notes (note_id, incident_id, segment, text) VALUES"
        " ('n1', 'via_notes', 'went_wrong', 'checkout timeouts were missed')"
    )
    similar.refresh_index(con)  # as a sync does after writing incidents, comments and notes


@pytest.mark.both_stores
def test_ranking_on_crafted_incidents(settings):
    with configure.open_configured(settings) as con:
        crafted(con)
        found = similar.similar(con, "INC-q", k=10)
    # Text leads: text alone (another service and mode) is listed, a shared service alone is not (it shares
    # no word); comments and notes are text.
    assert list(found["key"]) == ["INC-same_all", "INC-text_only", "INC-via_notes"]
    assert found["score"].is_monotonic_decreasing and found["score"].between(0, 1).all()
    best = found.iloc[0]
    assert best["same_service"] and best["same_mode"] and best["text_score"] > 0.8
    assert best["reason"].startswith("same service and mode; shared terms: ")
    assert set(best["shared_terms"]) <= {"checkout", "timeouts", "gateway", "canary", "drained", "pool"}
    assert "the" not in best["shared_terms"]  # stop word
    assert found.iloc[1]["reason"].startswith("shared terms: ")
    assert set(found.iloc[2]["shared_terms"]) == {"gateway", "canary", "checkout", "timeouts"}


@pytest.mark.both_stores
def test_service_and_mode_cannot_lift_generic_words_and_code_is_not_a_word(settings):
    with db.connect(settings) as con:
        add_incidents(
            con,
            [
                {
                    "issue_id": "q",
                    "day": 50,
                    "service": "api",
                    "failure_mode": "Bad deploy",
                    "summary": "Customers saw errors: the session store pool was exhausted by retries",
                    "description": "Stack: java.net.SocketTimeoutException at pool_manager.acquire, see"
                    " https://grafana.example.com/d/api {code}retryPolicy{code}",
                },
                {
                    "issue_id": "generic",
                    "day": 40,
                    "service": "api",
                    "failure_mode": "Bad deploy",
                    "summary": "Customers saw errors after the deploy",
                    "description": "Stack: java.net.SocketTimeoutException at pool_manager.acquire, see"
                    " https://grafana.example.com/d/api {code}retryPolicy{code}",
                },
                {
                    "issue_id": "problem",
                    "day": 30,
                    "service": "web",
                    "failure_mode": "Capacity",
                    "summary": "Session store pool exhausted by retries",
                },
                {"issue_id": "filler", "day": 20, "service": "batch", "summary": "Customers saw errors in the report"},
                {"issue_id": "filler2", "day": 10, "service": "batch", "summary": "Errors seen by customers"},
            ],
        )
        similar.refresh_index(con)
        terms = {t for (t,) in con.execute("SELECT DISTINCT term FROM similar_terms").fetchall()}
        found = similar.similar(con, "INC-q", k=5)
    # The same service and mode with only generic words in common rank below the same problem elsewhere.
    assert list(found["key"])[:2] == ["INC-problem", "INC-generic"], found[["key", "score", "text_score"]]
    assert set(found.iloc[0]["shared_terms"]) == {"session", "store", "pool", "exhausted", "retries"}
    # Identifiers, URLs and wiki macros are not words.
    assert not terms & {
        "java",
        "net",
        "sockettimeoutexception",
        "pool_manager",
        "manager",
        "acquire",
        "https",
        "grafana",
        "example",
        "code",
        "retrypolicy",
        "retry",
        "policy",
    }, terms


@pytest.mark.both_stores
def test_k_limits_and_bad_input_is_one_line(settings):
    with db.connect(settings) as con:
        crafted(con)
        assert list(similar.similar(con, "q", k=1)["key"]) == ["INC-same_all"]  # by Jira id too
        assert similar.similar(con, "INC-nothing").empty  # the first incident has nothing before it
        with pytest.raises(InputError, match="^unknown incident 'INC-404': no incident has that key or id"):
            similar.similar(con, "INC-404")
        with pytest.raises(InputError, match="at least 1"):
            similar.similar(con, "INC-q", k=0)


@pytest.mark.slow
def test_the_planted_recurring_pair_ranks_first_on_the_sample(settings, capsys, monkeypatch):
    demo.load_demo(settings)
    with db.connect(settings, read_only=True) as con:
        pair = con.execute(
            "SELECT key FROM incidents WHERE strpos(description, ?) > 0 ORDER BY started_at",
            [sample.RECURRING_ROOT_CAUSE_MARKER],
        ).fetchall()
        assert len(pair) == 2
        (first,), (again,) = pair
        recurrence = con.execute(
            "SELECT previous_key, within_window FROM v_failure_mode_recurrence WHERE key = ?", [again]
        ).fetchone()
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


@pytest.mark.both_stores
def test_many_queries_share_one_pass(settings):
    with db.connect(settings) as con:
        crafted(con)
        many = similar.similar_to_many(con, ["q", "text_only"], k=2)
    assert list(many.groupby("query_key")["key"].apply(list).items()) == [
        ("INC-q", ["INC-same_all", "INC-text_only"]),
        ("INC-text_only", ["INC-via_notes"]),
    ]


def test_incidents_board_lists_similar_earlier_incidents_escaped_and_filtered(settings):
    with configure.open_configured(settings) as con:
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


# --- the index: same answers as a full pass over the text, and it follows the text ------------------------

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_ENTITY = re.compile(r"&(?:amp;)*(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


_MARKUP_AND_CODE = re.compile(
    r"\{[A-Za-z]+(?::[^{}]*)?\}|[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'|\])]+"
    r"|[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+|[A-Za-z0-9]*_[A-Za-z0-9_]*"
    r"|[A-Za-z0-9]*[a-z][A-Z][A-Za-z0-9]*"
)


def words(text: str, code: bool = False) -> list[str]:
    """The tokeniser written again in Python: markup and code out (``code``: kept, as main did before issue
    19), lower case, 3+ letters or digits, no stop words."""
    text = re.sub(r"&(?:amp;)*gt;", ">", re.sub(r"&(?:amp;)*lt;", "<", text, flags=re.I), flags=re.I)
    text = _ENTITY.sub(" ", _TAG.sub(" ", text))
    text = text if code else _MARKUP_AND_CODE.sub(" ", text)
    return [
        w
        for w in re.findall(r"[^\W_]+", text.lower())
        if len(w) >= 3 and not re.fullmatch(r"[0-9]+", w) and w not in similar.STOP_WORDS
    ]


def full_pass(con, query_id: str, k: int, main: bool = False) -> list[tuple[str, float, list[str]]]:
    """BM25 as the module's docstring defines it, over every incident's text read afresh: (key, score,
    shared terms) best first. The oracle the index-backed SQL must equal; ``main`` ranks as main did before
    text led (0.6 * text + 0.25 * service + 0.15 * mode, any pair that shares a service or a mode listed,
    tokens of code counted), for the precision it had."""
    rows = con.execute(
        "SELECT i.issue_id, i.key, coalesce(i.started_at, i.created_at), i.summary, i.description, m.service,"
        " m.failure_mode, m.mode_source FROM incidents i JOIN v_incident_failure_modes m ON m.incident_id = i.issue_id"
        " WHERE NOT i.deleted"
    ).fetchall()
    extra = collections.defaultdict(list)
    for incident, text in con.execute(
        "SELECT incident_id, text FROM incident_events WHERE source = 'jira_comment' AND text IS NOT NULL"
        " UNION ALL SELECT incident_id, text FROM review_notes"
    ).fetchall():
        extra[incident].append(text)
    tf = {
        r[0]: collections.Counter(words(" ".join(filter(None, [r[3], r[3], r[4], *extra[r[0]]])), code=main))
        for r in rows
    }
    lengths = {i: sum(c.values()) for i, c in tf.items() if c}
    n, avg = len(lengths), sum(lengths.values()) / len(lengths)
    df = collections.Counter(t for c in tf.values() for t in c)
    idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    info = {r[0]: r for r in rows}
    q = info[query_id]
    terms = sorted(tf[query_id], key=lambda t: (-idf[t] * tf[query_id][t], t))[: similar.QUERY_TERMS]

    def weights(doc: str) -> dict[str, float]:
        c = tf[doc]
        return {t: idf[t] * c[t] * 2.2 / (c[t] + 1.2 * (0.25 + 0.75 * lengths[doc] / avg)) for t in terms if t in c}

    best = sum(weights(query_id).values())
    ranked = []
    for doc, r in info.items():
        if doc == query_id or not r[2] < q[2]:
            continue
        w = weights(doc)
        text = min(1.0, sum(w.values()) / best) if w else 0.0
        same_service = q[5] is not None and q[5] == r[5]
        same_mode = q[6] is not None and q[6] == r[6] and r[7] != "fallback"
        if main and (text > 0 or same_service or same_mode):
            ranked.append((-(0.6 * text + 0.25 * same_service + 0.15 * same_mode), -r[2].timestamp(), doc, r[1], 0, []))
        elif not main and text > 0:
            score = text * (1 + 0.25 * same_service + 0.15 * same_mode) / 1.4
            shared = sorted(w, key=lambda t: (-w[t], t))[: similar.SHARED_TERMS]
            ranked.append((-score, -r[2].timestamp(), doc, r[1], score, shared))
    return [(key, score, shared) for *_, key, score, shared in sorted(ranked)[:k]]


def answers(found) -> list[tuple[str, float, list[str]]]:
    return [(r["key"], r["score"], list(r["shared_terms"])) for r in found.to_dict("records")]


def assert_same(got, want) -> None:
    assert [g[0] for g in got] == [w[0] for w in want]
    assert [g[1] for g in got] == pytest.approx([w[1] for w in want], abs=1e-9)
    assert [g[2] for g in got] == [w[2] for w in want]


def index_rows(con) -> tuple[list, list]:
    return (
        # As text: PostgreSQL's numeric comes back as a float, which would hide a difference in the low bits.
        con.execute(
            "SELECT incident_id, length, CAST(fingerprint AS VARCHAR) FROM similar_documents ORDER BY 1, 2, 3"
        ).fetchall(),
        con.execute("SELECT incident_id, term, tf FROM similar_terms ORDER BY 1, 2, 3").fetchall(),
    )


def assert_index_is_current(con) -> None:
    """The index as kept equals one built from nothing now."""
    kept = index_rows(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM similar_terms")
        con.execute("DELETE FROM similar_documents")
        similar.refresh_index(con)
        rebuilt = index_rows(con)
    finally:
        con.execute("ROLLBACK")
    assert kept == rebuilt and rebuilt[0]


@pytest.mark.both_stores
@pytest.mark.slow
def test_the_index_gives_the_answers_of_a_full_pass_on_the_demo(settings, capsys, monkeypatch):
    demo.load_demo(settings)
    with db.connect(settings) as con:
        latest = [
            r[0]
            for r in con.execute(
                "SELECT issue_id FROM incidents JOIN review_severities USING (severity) WHERE NOT deleted"
                " ORDER BY coalesce(started_at, created_at) DESC, issue_id LIMIT 10"
            ).fetchall()
        ]
        planted = con.execute(
            "SELECT issue_id FROM incidents WHERE strpos(description, ?) > 0 ORDER BY started_at DESC",
            [sample.RECURRING_ROOT_CAUSE_MARKER],
        ).fetchone()[0]
        inc253 = con.execute("SELECT issue_id FROM incidents WHERE key = 'INC-253'").fetchone()[0]
        many = similar.similar_to_many(con, latest, 3)  # the incidents board's query
        for query in latest:
            assert_same(answers(many[many["query_id"] == query]), full_pass(con, query, 3))
        for query in (planted, inc253):  # `pir similar` and the guide's recap panel
            assert_same(answers(similar.similar(con, query, 5)), full_pass(con, query, 5))
        assert_index_is_current(con)


@pytest.mark.both_stores
def test_markup_and_entities_are_not_shared_terms(settings):
    with db.connect(settings) as con:
        add_incidents(
            con,
            [
                {
                    "issue_id": "q",
                    "day": 50,
                    "service": "api",
                    "summary": "R&amp;D &lt;b&gt;tools&lt;/b&gt; &amp; more",
                    "description": "<p>Ledger&nbsp;drift</p> <script>x</script> &#39;",
                },
                {
                    "issue_id": "markup",
                    "day": 40,
                    "service": "web",
                    "summary": "&amp; &lt;b&gt; <b>bold</b> &nbsp; &lt;script&gt;",
                    "description": "<p></p> &#39; &quot;",
                },
                {"issue_id": "words", "day": 30, "service": "web", "summary": "ledger drift in tools"},
            ],
        )
        similar.refresh_index(con)
        terms = {t for (t,) in con.execute("SELECT DISTINCT term FROM similar_terms").fetchall()}
        found = similar.similar(con, "INC-q", k=5)
    assert not terms & {"amp", "nbsp", "quot", "script"} and "bold" in terms and {"ledger", "drift", "tools"} <= terms
    # Only real words count: the incident made of markup shares nothing with the query.
    assert list(found["key"]) == ["INC-words"] and set(found.iloc[0]["shared_terms"]) == {"ledger", "drift", "tools"}


@pytest.mark.slow
def test_pir_similar_prints_the_demo_as_text_without_entities(settings, capsys, monkeypatch):
    demo.load_demo(settings)
    monkeypatch.setenv("PIR_DB", str(settings.db))
    with db.connect(settings, read_only=True) as con:
        keys = [k for (k,) in con.execute("SELECT key FROM incidents ORDER BY key").fetchall()]
    assert "INC-330" in keys
    assert cli.main(["similar", "INC-330"]) == 0  # "— R&D tools & more", like INC-251 "… fix <5 min"
    out = capsys.readouterr().out
    assert "R&D tools & more" in out and "INC-251" in out and "fix <5 min" in out
    assert "&amp;" not in out and "&lt;" not in out
    with db.connect(settings, read_only=True) as con:
        summaries = " ".join(s for (s,) in con.execute("SELECT summary FROM incidents").fetchall())
    assert "R&D tools & more" in summaries and not re.search(r"&(amp|lt|gt|quot);|<script|onerror", summaries)


@pytest.mark.both_stores
def test_the_index_follows_review_notes(settings):
    with db.connect(settings) as con:
        crafted(con)
        before = answers(similar.similar(con, "INC-q", k=10))
        session = ReviewSession.resolve(con, settings, "INC-nothing")
        note = meeting.add_note(session, "went_well", "gateway canary drained checkout timeouts")
        assert_index_is_current(con)
        after = answers(similar.similar(con, "INC-q", k=10))
        assert "INC-nothing" not in [a[0] for a in before] and "INC-nothing" in [a[0] for a in after]
        assert_same(after, full_pass(con, "q", 10))
        meeting.delete_note(con, note, version=1)
        assert_index_is_current(con)
        assert_same(answers(similar.similar(con, "INC-q", k=10)), before)


def test_pir_init_fills_the_index_of_a_database_from_before_it(settings, monkeypatch, capsys):
    with configure.open_configured(settings) as con:
        crafted(con)
        expected = answers(similar.similar(con, "INC-q", k=10))
        for table in ("similar_terms", "similar_documents", "similar_answers", "similar_answers_state"):
            con.execute(f"DROP TABLE {table}")
        con.execute("DELETE FROM schema_migrations WHERE name = '008_similar_index.sql'")
    db._migrated.clear()
    monkeypatch.setenv("PIR_DB", str(settings.db))
    assert cli.main(["init"]) == 0
    assert "008_similar_index.sql" in capsys.readouterr().out
    with db.connect(settings, read_only=True) as con:
        assert_same(answers(similar.similar(con, "INC-q", k=10)), expected)
        assert con.execute("SELECT count(*) FROM similar_documents").fetchone()[0] == 7  # every incident not deleted


@pytest.mark.both_stores
@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["datacenter", "cloud"])
def test_the_index_follows_a_sync(settings, flavour):
    site = sample.generate(31, 20)
    with FakeJira(site, flavour=flavour) as server:
        creds = {k: Secret(v) if k in ("jira_token", "jira_pat") else v for k, v in server.credentials().items()}
        settings = settings.replace(jira_url=server.url, **creds)
        run = lambda full=False: sync.run(settings, full=full, progress=False, retry=FAST)  # noqa: E731
        run()
        incidents = [i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Incident"]
        first, second, third = incidents[0], incidents[1], incidents[2]
        server.update_issue(first["key"], fields={"summary": "Zanzibar quokka outage"})
        server.update_issue(second["key"], comment="the zanzibar quokka came back")
        run()
        with db.connect(settings) as con:
            assert_index_is_current(con)
            terms = con.execute("SELECT incident_id FROM similar_terms WHERE term = 'quokka' ORDER BY 1").fetchall()
            assert terms == sorted([(first["id"],), (second["id"],)])
            later = max(
                (first, second),
                key=lambda i: con.execute(
                    "SELECT coalesce(started_at, created_at) FROM incidents WHERE issue_id = ?", [i["id"]]
                ).fetchone()[0],
            )
            assert_same(answers(similar.similar(con, later["id"], 10)), full_pass(con, later["id"], 10))
        server.delete_issue(third["id"])
        run(full=True)
        with db.connect(settings) as con:
            assert_index_is_current(con)
            assert con.execute(
                "SELECT count(*) FROM similar_documents WHERE incident_id = ?", [third["id"]]
            ).fetchone() == (0,)


@pytest.mark.both_stores
@pytest.mark.slow
def test_the_kept_board_answers_hold_only_while_their_inputs_do(settings):
    demo.load_demo(settings)
    with db.connect(settings) as con:
        latest = similar.latest_queries(con)
        kept = con.execute("SELECT queries, k FROM similar_answers_state").fetchone()
        assert sorted(kept[0]) == sorted(latest) and kept[1] == similar.ANSWERS_K

        def board_equals_full_pass() -> None:
            many = similar.similar_to_many(con, latest, 3)
            for query in latest:
                assert_same(answers(many[many["query_id"] == query]), full_pass(con, query, 3))

        board_equals_full_pass()  # from the kept answers
        # A manual mode on an earlier incident that is listed changes same_mode: the kept answers no longer hold.
        listed = con.execute("SELECT similar_id, failure_mode FROM similar_answers WHERE same_mode LIMIT 1").fetchone()
        other = con.execute(
            "SELECT mode FROM failure_mode_taxonomy WHERE mode <> ? AND NOT is_fallback LIMIT 1", [listed[1]]
        ).fetchone()[0]
        manual.set_mode(con, listed[0], other, set_by="test")
        assert similar._kept_answers(con, latest, 3) is None
        board_equals_full_pass()
        manual.clear_mode(con, listed[0])
        assert similar._kept_answers(con, latest, 3) is not None  # the inputs are as they were again
        # A review note is text: it clears the kept answers; the next sync (refresh) works them out again.
        meeting.add_note(ReviewSession.resolve(con, settings, latest[0]), "went_well", "quokka zanzibar canary")
        assert con.execute("SELECT count(*) FROM similar_answers_state").fetchone() == (0,)
        board_equals_full_pass()
        similar.refresh(con, [])
        assert similar._kept_answers(con, latest, 3) is not None
        board_equals_full_pass()


# --- do engineers agree? precision@3 on the sample's labelled pairs ----------------------------------------


def precision_at_3(ranked: dict[str, list[str]], same: set[tuple[str, str]]) -> float:
    """Mean over the queries of: how many of the first 3 listed are the same problem, out of 3."""
    return sum(sum((q, key) in same for key in keys[:3]) / 3 for q, keys in ranked.items()) / len(ranked)


@pytest.mark.slow
def test_precision_at_3_on_the_labelled_pairs_of_the_sample(demo_db):
    """The sample's review notes name the problem behind each reviewed incident (``sample.PROBLEMS``); a
    recurrence names its earlier incident's problem. An earlier incident is the right answer when it had the
    same problem; near-misses share the service and mode, the service, the mode, or only generic words."""
    pairs = sample.generate()["similar_pairs"]
    kinds = collections.Counter(p["kind"] for p in pairs)
    assert (
        len(pairs) >= 1000 and kinds["same problem"] >= 70 and kinds["service only"] >= 50 and kinds["mode only"] >= 30
    )
    assert kinds["service and mode only"] >= 1 and kinds["generic words only"] >= 500
    same = {(p["query"], p["incident"]) for p in pairs if p["same_problem"]}
    queries = sorted({p["query"] for p in pairs})
    settings = Settings(db=demo_db, db_lock_timeout=20.0)
    with db.connect(settings, read_only=True) as con:
        ids = dict(con.execute("SELECT key, issue_id FROM incidents").fetchall())
        found = similar.similar_to_many(con, [ids[q] for q in queries], 3)
        after = {q: list(found[found["query_key"] == q]["key"]) for q in queries}
        before = {q: [key for key, *_ in full_pass(con, ids[q], 3, main=True)] for q in queries}
    p_before, p_after = precision_at_3(before, same), precision_at_3(after, same)
    print(f"precision@3 on {len(queries)} queries, {len(pairs)} labelled pairs: main {p_before:.3f}, now {p_after:.3f}")
    assert p_after >= 0.45 and p_after >= p_before + 0.15, (p_before, p_after)


def test_indexing_a_few_incidents_reads_only_their_comments(settings):
    """A sync indexes each chunk's incidents under its capped memory (``sync.SYNC_MEMORY_LIMIT``): gathering their
    comments must cost the chunk's, not the site's. Before, every comment of the site was gathered for each
    chunk, and a first sync ran out of memory near 150,000 incidents."""
    with db.connect(settings) as con:
        # 20,000 incidents with 10 comments of 300 characters each: 60 MB of comment text, over the 32 MB below.
        con.execute(
            "INSERT INTO incidents (issue_id, key, summary) SELECT 'i' || range, 'INC-' || range, 'checkout latency'"
            " FROM range(20000)"
        )
        con.execute(
            "INSERT INTO incident_events (event_id, incident_id, occurred_at, source, kind, text)"
            " SELECT 'c' || range, 'i' || (range // 10), TIMESTAMPTZ '2026-11-01 00:00+00' + to_seconds(range),"
            " 'jira_comment', 'comment', repeat(md5(range::VARCHAR), 9) || ' rollback' FROM range(200000)"
        )
        con.execute("SET memory_limit = '32MB'")
        assert similar.refresh_index(con, ["i7", "i19999"]) == 2
        (terms,) = con.execute(
            "SELECT count(DISTINCT incident_id) FROM similar_terms WHERE term = 'rollback'"
        ).fetchone()
        assert terms == 2
