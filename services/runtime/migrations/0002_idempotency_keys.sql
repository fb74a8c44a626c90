-- Why: a command repeated with the same Idempotency-Key must get its first reply back, and the
-- same key with another body must be refused; keys belong to the caller's organisation, so one
-- partner's key can neither collide with nor reveal another's.
CREATE TABLE idempotency_keys (
    organisation   text NOT NULL,
    scope          text NOT NULL,
    key            text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_sha256 text NOT NULL,
    reply          jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation, scope, key)
);
