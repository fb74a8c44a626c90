-- Why: the walking skeleton records grants awarded to EPNs and non-profits; calls,
-- applications and payments come with the funding issue.
CREATE TABLE grants (
    grant_id         uuid PRIMARY KEY,
    idempotency_key  text UNIQUE,
    call_code        text NOT NULL,
    call_kind        text NOT NULL,
    beneficiary      text NOT NULL,
    beneficiary_kind text NOT NULL,
    public           text,
    amount_eur       numeric(12, 2) NOT NULL CHECK (amount_eur > 0),
    awarded_on       date NOT NULL,
    recorded_by      jsonb NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
