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
