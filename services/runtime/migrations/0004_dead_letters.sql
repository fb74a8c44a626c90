-- Why: a batch delivered again (a rebalance, an evicted member, a crash between the dead-letter
-- write and the offset commit) must not write its dead letters a second time. A consumer records
-- each dead letter here, by the record's position, once the dead-letter topic has it, and skips a
-- record it finds at that position with the same value (SHA-256): offsets start again at 0 when a
-- topic is recreated or a broker's data is reset, and a new record there must not be skipped.
-- Keyed by position rather than by event: a dead letter an operator publishes again to its topic
-- arrives at a new position and is handled like any record (inbox included).
CREATE TABLE dead_letters (
    consumer    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint NOT NULL,
    value_sha256 bytea NOT NULL,
    reason      text NOT NULL,
    event_id    uuid,
    failed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition, "offset")
);
