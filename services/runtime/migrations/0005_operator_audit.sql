-- Why: operators replay or discard dead letters and release or discard parked outbox rows by hand
-- (python -m services.<name> dlq … / outbox …); each decision is kept, with who took it, when, on
-- which record and with what outcome, so that a dead letter dealt with is hidden from the next
-- listing, is not replayed twice by accident, and anyone can tell later what happened to it.
CREATE TABLE operator_audit (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    operator     text NOT NULL CHECK (operator <> ''),
    action       text NOT NULL CHECK (action IN ('dlq-replay', 'dlq-discard', 'outbox-release', 'outbox-discard')),
    -- What was acted on: a dead letter '<dead-letter topic>:<partition>:<offset>', or 'outbox:<id>'.
    target       text NOT NULL,
    -- Where the event itself is: a dead letter's original topic, partition and offset; an outbox
    -- row's topic (no partition or offset: it was never published).
    topic        text,
    "partition"  integer,
    "offset"     bigint,
    event_id     text,  -- as the record carried it: a dead letter's may not even be a UUID
    outcome      text NOT NULL CHECK (outcome IN ('done', 'failed')),
    reason       text,  -- the operator's words (required to discard)
    -- The rest: where a replay was written, the error of a failed one, the row an outbox discard removed.
    detail       jsonb NOT NULL DEFAULT '{}'
);
-- dlq list asks, for the dead letters it read, which ones were already dealt with.
CREATE INDEX operator_audit_target ON operator_audit (target, action) WHERE outcome = 'done';
