-- Why: operators replay or discard dead letters and release or discard parked outbox rows by hand
-- (python -m services.<name> dlq … / outbox …); each decision is kept, with who took it, when, on
-- which record and with what outcome, so that a dead letter dealt with is hidden from the next
-- listing, is not replayed twice by accident, and anyone can tell later what happened to it.
-- A dlq replay is audited before it is sent ('started', committed) and completed after it
-- ('done', 'failed', or 'unknown' when the broker did not confirm the write in time): a process
-- that dies, or a database that fails, between the write to Kafka and the audit leaves 'started',
-- which dlq shows as replay-unknown and replays again only with --force.
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
    outcome      text NOT NULL CHECK (outcome IN ('done', 'failed', 'started', 'unknown')),
    reason       text,  -- the operator's words (required to discard)
    -- The rest: where a replay was written, the error of a failed one, the row an outbox discard removed.
    detail       jsonb NOT NULL DEFAULT '{}'
);
-- dlq asks, for the dead letters it reads, the latest decision that is not a failure.
CREATE INDEX operator_audit_decided ON operator_audit (target) WHERE outcome <> 'failed';
