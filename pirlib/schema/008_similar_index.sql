-- 008: the similar-incidents index. `pir similar`, the incidents board and the guide's recap panel score
-- BM25 over each incident's text; tokenising every incident's text on each view cost 7.9 s at 50k
-- incidents, so the words are counted once, when the text changes, and the queries read the counts.
-- Kept by pirlib.failure_modes.similar.refresh_index (a sync, the demo load, a review note added or
-- deleted); `pir init` fills it for a database migrated to 008.

CREATE TABLE similar_documents (
    incident_id VARCHAR PRIMARY KEY,
    length      INTEGER NOT NULL,
    fingerprint UBIGINT NOT NULL
);

CREATE TABLE similar_terms (
    incident_id VARCHAR NOT NULL,
    term        VARCHAR NOT NULL,
    tf          INTEGER NOT NULL
);

-- The answers the incidents board asks for (the latest incidents that require a review), worked out at the
-- end of each sync and demo load from the index: a board view reads them instead of scoring. They hold
-- while the index and the failure-mode inputs are as they were (similar_answers_state); a review note
-- clears them and a changed manual mode or taxonomy fails the fingerprint, and the board then scores live
-- until the next sync.
CREATE TABLE similar_answers (
    query_id     VARCHAR NOT NULL,
    rank         INTEGER NOT NULL,
    similar_id   VARCHAR NOT NULL,
    failure_mode VARCHAR,
    score        DOUBLE NOT NULL,
    text_score   DOUBLE NOT NULL,
    same_service BOOLEAN NOT NULL,
    same_mode    BOOLEAN NOT NULL,
    shared_terms VARCHAR[] NOT NULL,
    PRIMARY KEY (query_id, rank)
);

CREATE TABLE similar_answers_state (
    queries           VARCHAR[] NOT NULL,
    k                 INTEGER NOT NULL,
    modes_fingerprint UBIGINT NOT NULL,
    computed_at       TIMESTAMPTZ NOT NULL
);
