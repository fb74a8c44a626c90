-- Why: the walking skeleton records deliveries of refurbished devices to recipient
-- organisations (counts only, no personal data); the full device record comes later.
CREATE TABLE deliveries (
    delivery_id     uuid PRIMARY KEY,
    idempotency_key text UNIQUE,
    recipient       text NOT NULL,
    recipient_kind  text NOT NULL,
    donor           text,
    donor_kind      text,
    devices         jsonb NOT NULL,
    total_devices   integer NOT NULL CHECK (total_devices > 0),
    public          text,
    beneficiaries   integer,
    commune         text,
    delivered_on    date NOT NULL,
    recorded_by     jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
