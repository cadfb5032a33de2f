"""Similar past incidents: BM25 over each incident's text, computed in SQL, plus service and mode.

An incident's text is its summary (counted twice: it names the failure in the fewest words), description,
Jira comments and the review's notes. Words are lower-cased runs of letters and digits of at least three
characters, without English stop words and bare numbers, and without what markup and code leave in text
(see _MARKUP_AND_CODE): HTML tags and entities, wiki macros such as {code}, URLs, and identifiers
(dotted names like java.net.SocketTimeoutException, snake_case, camelCase), which name a host, a file or a
class rather than the problem. BM25 (k1 = 1.2, b = 0.75) scores every earlier incident against the
query's QUERY_TERMS most distinctive words, divided by the query's score against itself on those words,
so ``text_score`` lies in 0..1 whatever the corpus. The ranking score is

    score = text_score * (1 + 0.25 * (same service) + 0.15 * (same failure mode)) / 1.4

Text leads: a shared service or mode multiplies the text's evidence, so it decides between incidents whose
text is about as close, but it cannot lift a pair that shares only generic words (their text score is
small) above one that shares the problem's words, and an incident that shares no word is not listed at
all. On the sample's labelled pairs (``pirlib.sample.PROBLEMS``, tests/test_similar.py) this took
precision@3 from 0.28 (main's 0.6 * text + 0.25 * service + 0.15 * mode) to 0.49. Only incidents that
started (else were created) before the query are candidates: "has this happened before?". Ties go to the
more recent incident. No extension and no network model: plain SQL over the pir file.

The words are counted once, when an incident's text changes, into the index tables similar_documents and
similar_terms (``refresh_index``, called by a sync, the demo load and a review note's write); a query reads
the counts and works out idf and the average length from them, so the scores equal a full pass over the
text while a view no longer tokenises every incident.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import duckdb
import pandas as pd

from pirlib import pg
from pirlib.db import ABORTED, Connection, dialect, drop_temp, one_at_a_time
from pirlib.errors import InputError
from pirlib.incidents import resolve_incident

SERVICE_BONUS, MODE_BONUS = 0.25, 0.15
BM25_K1, BM25_B = 1.2, 0.75
SHARED_TERMS = 5
# The query's most distinctive words (by idf x tf) that are scored, as "more like this" searches do: the
# common words left out add little to any score but are in most incidents, which made 30 queries over
# 10k incidents take 8 s.
QUERY_TERMS = 32
# The incidents board's questions: the LATEST latest incidents that require a review, ANSWERS_K answers
# each kept (the board shows 3, the guide's recap 5; a shorter list is the top of a longer one).
LATEST, ANSWERS_K = 10, 5
STOP_WORDS = sorted(
    {
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "all",
        "any",
        "can",
        "had",
        "her",
        "was",
        "one",
        "our",
        "out",
        "has",
        "have",
        "its",
        "let",
        "may",
        "new",
        "now",
        "old",
        "see",
        "two",
        "way",
        "who",
        "did",
        "get",
        "got",
        "him",
        "his",
        "how",
        "man",
        "off",
        "own",
        "say",
        "she",
        "too",
        "use",
        "via",
        "with",
        "this",
        "that",
        "from",
        "they",
        "will",
        "would",
        "there",
        "their",
        "what",
        "about",
        "which",
        "when",
        "were",
        "been",
        "into",
        "than",
        "then",
        "them",
        "these",
        "those",
        "some",
        "such",
        "only",
        "also",
        "after",
        "before",
        "over",
        "under",
        "again",
        "more",
        "most",
        "other",
        "very",
        "just",
        "should",
        "could",
        "each",
        "while",
        "where",
        "here",
        "being",
        "both",
        "does",
        "doing",
        "during",
        "until",
        "because",
        "through",
    }
)

# Markup in stored text is not evidence that two incidents are alike: an HTML tag (also one escaped as
# &lt;b&gt;), its attributes and a character entity (&amp;, &nbsp;, &#39;) become spaces before words are
# counted, so "amp", "lt", "nbsp" or "script" from markup never make two incidents look similar.
_UNESCAPE_LT = r"&(?:amp;)*lt;"
_UNESCAPE_GT = r"&(?:amp;)*gt;"
_TAG = r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"
_ENTITY = r"&(?:amp;)*(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);"
# Nor are the tokens of markup and code, which every write-up has in its own way: a wiki macro ({code},
# {noformat}, {color:red}), a URL, and an identifier (a dotted name, snake_case, camelCase or PascalCase
# with an inner capital). Matched before lower-casing; ASCII classes, so Python's re reads them alike.
_MARKUP_AND_CODE = (
    r"\{[A-Za-z]+(?::[^{}]*)?\}"
    r"|[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'|\])]+"
    r"|[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+"
    r"|[A-Za-z0-9]*_[A-Za-z0-9_]*"
    r"|[A-Za-z0-9]*[a-z][A-Z][A-Za-z0-9]*"
)
_WORDS = (
    f"regexp_extract_all(lower(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(body, "
    f"'{_UNESCAPE_LT}', '<', 'gi'), '{_UNESCAPE_GT}', '>', 'gi'), '{_TAG}', ' ', 'g'), '{_ENTITY}', ' ', 'g'), "
    f"'{_MARKUP_AND_CODE.replace(chr(39), chr(39) * 2)}', ' ', 'g')), "
    "'[\\p{L}\\p{N}]+')"
)
# Part of every fingerprint: a change of the words above re-counts every incident at the next refresh.
TOKENS_VERSION = "2"

# The text of the incidents in scope ($all, else the ids in $ids) that are not deleted, and its fingerprint
# (comments and notes in a fixed order, so that unchanged text keeps its fingerprint). The comments and notes
# are gathered for the incidents in scope only: DuckDB does not carry the scope into the joined aggregates by
# itself, so a sync's chunk gathered every comment of the site, which outgrew the sync's capped memory
# (an Out of Memory error near 150,000 incidents) and took longer with every chunk.
_BODY = "concat_ws(' ', i.summary, i.summary, i.description, c.body, n.body)"
_IN_SCOPE = "($all OR {column} IN (SELECT unnest($ids)))"
_DOCS_SQL = f"""
SELECT i.issue_id AS incident_id, {{body}} AS body, {{fingerprint}} AS fingerprint
FROM incidents AS i
LEFT JOIN (SELECT incident_id, string_agg(text, ' ' ORDER BY occurred_at, event_id) AS body FROM incident_events
           WHERE source = 'jira_comment' AND text IS NOT NULL AND {_IN_SCOPE.format(column="incident_id")}
           GROUP BY incident_id) AS c
    ON c.incident_id = i.issue_id
LEFT JOIN (SELECT incident_id, string_agg(text, ' ' ORDER BY note_id) AS body FROM review_notes
           WHERE {_IN_SCOPE.format(column="incident_id")} GROUP BY incident_id) AS n
    ON n.incident_id = i.issue_id
WHERE NOT i.deleted AND {_IN_SCOPE.format(column="i.issue_id")}
"""

# Runs in DuckDB on both stores: PostgreSQL's regular expressions have no \p{L} class.
_TERMS_SQL = f"""
WITH words AS (SELECT incident_id, unnest({_WORDS}) AS term FROM _similar_changed)
SELECT incident_id, term, count(*)::INTEGER AS tf FROM words
WHERE length(term) >= 3 AND NOT regexp_full_match(term, '[0-9]+') AND term <> ALL ($stop_words)
GROUP BY ALL
"""

_SQL = f"""
WITH modes AS MATERIALIZED (
    SELECT incident_id, service, failure_mode, mode_source FROM v_incident_failure_modes
),
docs AS (SELECT issue_id, coalesce(started_at, created_at) AS occurred_at FROM incidents WHERE NOT deleted),
lengths AS (SELECT incident_id AS issue_id, length AS len FROM similar_documents WHERE length > 0),
corpus AS (SELECT count(*) AS n_docs, avg(len) AS avg_len FROM lengths),
tf AS (SELECT incident_id AS issue_id, term, tf FROM similar_terms),
queries AS (SELECT d.issue_id AS query_id, d.occurred_at FROM docs AS d WHERE d.issue_id IN (SELECT unnest($ids))),
query_words AS (SELECT t.issue_id AS query_id, t.term, t.tf FROM tf AS t JOIN queries AS q ON q.query_id = t.issue_id),
idf AS (
    SELECT t.term, ln(1 + (c.n_docs - count(*) + 0.5) / (count(*) + 0.5)) AS idf
    FROM tf AS t CROSS JOIN corpus AS c
    WHERE t.term IN (SELECT term FROM query_words)
    GROUP BY t.term, c.n_docs
),
query_terms AS (
    SELECT query_id, term FROM (
        SELECT w.query_id, w.term, row_number() OVER (PARTITION BY w.query_id ORDER BY f.idf * w.tf DESC, w.term) AS n
        FROM query_words AS w JOIN idf AS f USING (term)
    ) AS ranked_words
    WHERE n <= {QUERY_TERMS}
),
weights AS (
    SELECT qt.query_id, t.issue_id, t.term,
           f.idf * t.tf * ({BM25_K1} + 1) / (t.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * l.len / c.avg_len)) AS w
    FROM query_terms AS qt
    JOIN tf AS t ON t.term = qt.term
    JOIN idf AS f ON f.term = t.term
    JOIN lengths AS l ON l.issue_id = t.issue_id
    CROSS JOIN corpus AS c
),
self AS (SELECT query_id, sum(w) AS best FROM weights WHERE issue_id = query_id GROUP BY query_id),
text AS (
    SELECT w.query_id, w.issue_id, least(1.0, sum(w.w) / s.best) AS text_score
    FROM weights AS w JOIN self AS s USING (query_id)
    WHERE w.issue_id <> w.query_id
    GROUP BY w.query_id, w.issue_id, s.best
),
candidates AS (
    SELECT q.query_id, d.issue_id, d.occurred_at,
           coalesce(t.text_score, 0) AS text_score,
           mq.service IS NOT NULL AND mq.service = m.service AS same_service,
           mq.failure_mode IS NOT NULL AND mq.failure_mode = m.failure_mode AND m.mode_source <> 'fallback'
               AS same_mode
    FROM queries AS q
    JOIN docs AS d ON d.occurred_at < q.occurred_at
    JOIN modes AS mq ON mq.incident_id = q.query_id
    JOIN modes AS m ON m.incident_id = d.issue_id
    LEFT JOIN text AS t ON t.query_id = q.query_id AND t.issue_id = d.issue_id
),
scored AS (
    SELECT *, text_score * (1 + {SERVICE_BONUS} * same_service::INT + {MODE_BONUS} * same_mode::INT)
              / (1 + {SERVICE_BONUS} + {MODE_BONUS}) AS score
    FROM candidates
    WHERE text_score > 0
),
ranked AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY query_id ORDER BY score DESC, occurred_at DESC, issue_id) AS n
        FROM scored
    ) AS numbered
    WHERE n <= $k
),
-- the words behind each listed pair, worked out for the k listed only (a list per candidate pair cost
-- most of the time)
shared AS (
    SELECT w.query_id, w.issue_id, (array_agg(w.term ORDER BY w.w DESC, w.term))[1:{SHARED_TERMS}] AS shared_terms
    FROM weights AS w JOIN ranked AS r ON r.query_id = w.query_id AND r.issue_id = w.issue_id
    GROUP BY w.query_id, w.issue_id
)
SELECT r.query_id, qi.key AS query_key, i.issue_id AS incident_id, i.key, i.summary, i.service, i.severity,
       m.failure_mode, r.occurred_at, r.score, r.text_score, r.same_service, r.same_mode,
       coalesce(sh.shared_terms, CAST(ARRAY[] AS VARCHAR[])) AS shared_terms, i.url
FROM ranked AS r
LEFT JOIN shared AS sh ON sh.query_id = r.query_id AND sh.issue_id = r.issue_id
JOIN incidents AS i ON i.issue_id = r.issue_id
JOIN incidents AS qi ON qi.issue_id = r.query_id
JOIN modes AS m ON m.incident_id = r.issue_id
ORDER BY r.query_id, r.score DESC, r.occurred_at DESC, i.issue_id
"""


def refresh_index(con: Connection, incident_ids: Iterable[str] | None = None) -> int:
    """Bring the index (similar_documents, similar_terms) up to date with the incidents' text; return how
    many incidents were re-counted.

    ``incident_ids`` limits the work to those incidents (a review note added, an incremental sync's batch);
    None checks every incident, which also drops the deleted ones. Only an incident whose text changed
    (its fingerprint differs) or that is new is re-counted. The caller holds the transaction, so the index
    commits with the change that moved it. On PostgreSQL the fingerprints are compared in the store and only
    the changed incidents' text is counted, in DuckDB (``_TERMS_SQL``), and its counts written back.
    """
    # Two refreshes at once (two facilitators adding notes to one incident, or a note while a sync ends) would
    # both find the incident changed and both insert its row, and the second fail on similar_documents' key
    # (tests/test_concurrency.py): the second waits for the first's commit and then sees its rows.
    one_at_a_time(con, "pir similar index")
    ids = None if incident_ids is None else sorted(set(incident_ids))
    scope = {"all": ids is None, "ids": ids or []}
    postgres = dialect(con) == "postgres"
    fingerprint = _fingerprint(con, f"'{TOKENS_VERSION}' || {_BODY}") if postgres else f"hash($tokens_version, {_BODY})"
    drop_temp(con, "_similar_docs", "_similar_changed")
    con.execute(
        f"CREATE TEMP TABLE _similar_docs AS {_DOCS_SQL.format(body=_BODY, fingerprint=fingerprint)}",
        scope if postgres else {**scope, "tokens_version": TOKENS_VERSION},
    )
    try:
        con.execute(
            "CREATE TEMP TABLE _similar_changed AS SELECT d.incident_id, d.body, d.fingerprint"
            " FROM _similar_docs AS d LEFT JOIN similar_documents AS s USING (incident_id)"
            " WHERE s.fingerprint IS DISTINCT FROM d.fingerprint"
        )
        # Index rows to drop: those of indexed incidents re-counted now, and those of incidents in scope that
        # are gone or deleted. Only an indexed incident has terms, so a first sync's chunks of new incidents
        # drop nothing, and skip the DELETE's scan of every term of the site (similar_terms has no index).
        con.execute(
            "CREATE TEMP TABLE _similar_stale AS SELECT incident_id FROM similar_documents"
            " WHERE incident_id IN (SELECT incident_id FROM _similar_changed)"
            " UNION SELECT s.incident_id FROM similar_documents AS s"
            f" WHERE {_IN_SCOPE.format(column='s.incident_id')}"
            " AND NOT EXISTS (SELECT 1 FROM _similar_docs AS d WHERE d.incident_id = s.incident_id)",
            scope,
        )
        (stale,) = con.execute("SELECT count(*) FROM _similar_stale").fetchall()[0]
        if stale:
            for table in ("similar_terms", "similar_documents"):
                con.execute(f"DELETE FROM {table} WHERE incident_id IN (SELECT incident_id FROM _similar_stale)")
        (changed,) = con.execute("SELECT count(*) FROM _similar_changed").fetchall()[0]
        if changed:
            _count_words(con)
            con.execute(
                "INSERT INTO similar_terms (incident_id, term, tf) SELECT incident_id, term, tf FROM _similar_counted"
            )
            # Each document's length from its counts just made, not from similar_terms (another scan of it).
            con.execute(
                "INSERT INTO similar_documents (incident_id, length, fingerprint)"
                " SELECT c.incident_id, coalesce(t.length, 0), c.fingerprint FROM _similar_changed AS c"
                " LEFT JOIN (SELECT incident_id, sum(tf)::INTEGER AS length FROM _similar_counted"
                "            GROUP BY incident_id) AS t USING (incident_id)"
            )
        if changed or stale:  # every score read the corpus: the kept answers no longer hold
            con.execute("DELETE FROM similar_answers")
            con.execute("DELETE FROM similar_answers_state")
        return changed
    finally:
        if postgres:  # the counts were registered (pg.register), and go the same way
            with contextlib.suppress(*ABORTED):
                con.unregister("_similar_counted")
        else:
            drop_temp(con, "_similar_counted")
        drop_temp(con, "_similar_docs", "_similar_changed", "_similar_stale")


def _count_words(con: Connection) -> None:
    """Count the words of ``_similar_changed`` with ``_TERMS_SQL`` into ``_similar_counted`` (incident_id, term,
    tf): a temporary table in DuckDB; on PostgreSQL, which has no \\p{L} class, the changed text is counted in an
    in-memory DuckDB and the counts registered in the store."""
    if not isinstance(con, pg.PgConnection):
        con.execute(f"CREATE TEMP TABLE _similar_counted AS {_TERMS_SQL}", {"stop_words": STOP_WORDS})
        return
    changed = con.execute("SELECT incident_id, body FROM _similar_changed").arrow()
    with duckdb.connect(":memory:") as counter:
        counter.register("_similar_changed", changed)
        terms = counter.sql(_TERMS_SQL, params={"stop_words": STOP_WORDS}).to_arrow_table()
    con.register("_similar_counted", terms)


def _fingerprint(con: Connection, text: str) -> str:
    """SQL for a 64-bit fingerprint of the text expression ``text``: DuckDB's ``hash``; PostgreSQL has none of
    its own, so 60 bits of its md5 (not negative, so that it also fits the read model's UBIGINT)."""
    if dialect(con) == "postgres":
        return f"('x' || left(md5({text}), 15))::bit(60)::bigint"
    return f"hash({text})"


_MODES_TEXT = """concat_ws('|',
    (SELECT string_agg(x::VARCHAR, ';' ORDER BY x::VARCHAR) FROM failure_mode_overrides AS x),
    (SELECT string_agg(x::VARCHAR, ';' ORDER BY x::VARCHAR) FROM failure_mode_taxonomy AS x),
    (SELECT string_agg(x::VARCHAR, ';' ORDER BY x::VARCHAR) FROM failure_mode_rules AS x),
    (SELECT string_agg(x::VARCHAR, ';' ORDER BY x::VARCHAR) FROM failure_modes AS x))"""


def _modes_fingerprint(con: Connection) -> str:
    """A query for the fingerprint of what the failure modes are worked out from (the kept answers' check)."""
    return f"SELECT {_fingerprint(con, _MODES_TEXT)}"


def index_missing(con: Connection) -> bool:
    """Whether incidents are there but the index was never built (a database migrated to 008 holding
    incidents): a sync or demo load indexes every incident it writes, so otherwise it is never empty."""
    # fetchall, not fetchone: a result left unfinished blocks the connection's next register() (DuckDB 2).
    return con.execute(
        "SELECT EXISTS (SELECT 1 FROM incidents WHERE NOT deleted) AND NOT EXISTS (SELECT 1 FROM similar_documents)"
    ).fetchall()[0][0]


def latest_queries(con: Connection) -> list[str]:
    """The LATEST latest incidents (not deleted) whose severity requires a review: the board's questions."""
    return [
        row[0]
        for row in con.execute(
            "SELECT issue_id FROM incidents JOIN review_severities USING (severity) WHERE NOT deleted"
            f" ORDER BY coalesce(started_at, created_at) DESC, issue_id LIMIT {LATEST}"
        ).fetchall()
    ]


def refresh(con: Connection, incident_ids: Iterable[str] | None = None) -> int:
    """After a sync or demo load wrote ``incident_ids`` (None: the whole site): re-count their text
    (``refresh_index``) and work out the board's answers again, since a sync also moves what the answers
    read besides text (services, modes, start times, which incidents are latest). Returns the re-counted."""
    ids = None if incident_ids is None else list(incident_ids)
    changed = refresh_index(con, ids)
    queries = latest_queries(con)
    if ids == [] and _kept_answers(con, queries, ANSWERS_K) is not None:
        return 0  # a sync that read nothing (the usual cron run) leaves answers that still hold
    con.execute("DELETE FROM similar_answers")
    con.execute("DELETE FROM similar_answers_state")
    con.execute(
        "INSERT INTO similar_answers SELECT query_id, row_number() OVER (PARTITION BY query_id ORDER BY score DESC,"
        " occurred_at DESC, incident_id), incident_id, failure_mode, score, text_score, same_service, same_mode,"
        f" shared_terms FROM ({_SQL}) AS answers",
        {"ids": queries, "k": ANSWERS_K},
    )
    con.execute(
        f"INSERT INTO similar_answers_state VALUES (?, ?, ({_modes_fingerprint(con)}), now())", [queries, ANSWERS_K]
    )
    return changed


def _kept_answers(con: Connection, incident_ids: list[str], k: int) -> pd.DataFrame | None:
    """The kept answers for these queries, or None when they do not hold (see ``refresh``)."""
    # The fingerprints are compared in SQL: PostgreSQL's numeric (the ubigint domain) comes back as a float.
    state = con.execute(
        f"SELECT queries, k, modes_fingerprint = ({_modes_fingerprint(con)}) FROM similar_answers_state"
    ).fetchone()
    if state is None or k > state[1] or not state[2] or not set(incident_ids) <= set(state[0]):
        return None
    return con.execute(
        """
        SELECT a.query_id, qi.key AS query_key, i.issue_id AS incident_id, i.key, i.summary, i.service, i.severity,
               a.failure_mode, coalesce(i.started_at, i.created_at) AS occurred_at, a.score, a.text_score,
               a.same_service, a.same_mode, a.shared_terms, i.url
        FROM similar_answers AS a
        JOIN incidents AS i ON i.issue_id = a.similar_id
        JOIN incidents AS qi ON qi.issue_id = a.query_id
        WHERE a.query_id IN (SELECT unnest($ids)) AND a.rank <= $k
        ORDER BY a.query_id, a.rank
        """,
        {"ids": incident_ids, "k": k},
    ).df()


def reason(row: pd.Series | dict) -> str:
    """Why an incident is similar, in words: "same service and mode; shared terms: a, b"."""
    parts = []
    if row["same_service"] and row["same_mode"]:
        parts.append("same service and mode")
    elif row["same_service"]:
        parts.append(f"same service ({row['service']})")
    elif row["same_mode"]:
        parts.append(f"same mode ({row['failure_mode']})")
    terms = list(row["shared_terms"]) if row["shared_terms"] is not None else []
    if terms:
        parts.append("shared terms: " + ", ".join(terms))
    return "; ".join(parts)


def similar_to_many(con: Connection, incident_ids: Sequence[str], k: int = 5) -> pd.DataFrame:
    """For each incident id, its ``k`` most similar earlier incidents (columns as in ``similar``, plus
    query_id and query_key), best first within each query."""
    if k < 1:
        raise InputError(f"-k {k}: ask for at least 1 similar incident")
    ids = list(incident_ids)
    frame = _kept_answers(con, ids, k)
    if frame is None:
        frame = con.execute(_SQL, {"ids": ids, "k": k}).df()
    frame["reason"] = [reason(row) for row in frame.to_dict("records")] if not frame.empty else []
    return frame


def similar(con: Connection, incident: str, k: int = 5) -> pd.DataFrame:
    """The ``k`` earlier incidents most similar to ``incident`` (key or id), best first: incident_id, key,
    summary, service, severity, failure_mode, occurred_at, score, text_score, same_service, same_mode,
    shared_terms, url, reason."""
    return similar_to_many(con, [resolve_incident(con, incident)[0]], k).drop(columns=["query_id", "query_key"])
