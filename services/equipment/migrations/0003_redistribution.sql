-- Why: redistribution. Recipients' requests and their review, caps per recipient kind and
-- period, allocations of devices to requests, deliveries the recipient acknowledges with
-- six-monthly follow-ups, returns, and disposals for the WEEE register.
CREATE TABLE requests (
    id             uuid PRIMARY KEY,
    recipient      text NOT NULL REFERENCES organisations,
    recipient_kind text NOT NULL,
    devices        jsonb NOT NULL,
    public         text,
    beneficiaries  integer CHECK (beneficiaries >= 0),
    commune        text,
    justification  text NOT NULL DEFAULT '',
    priority       integer NOT NULL DEFAULT 0,
    status         text NOT NULL DEFAULT 'submitted'
                   CHECK (status IN ('submitted', 'accepted', 'partially_accepted', 'refused')),
    granted        jsonb NOT NULL DEFAULT '{}',
    reason         text NOT NULL DEFAULT '',
    submitted_at   timestamptz NOT NULL DEFAULT now(),
    reviewed_at    timestamptz
);

CREATE TABLE caps (
    recipient_kind text NOT NULL,
    device_kind    text NOT NULL,
    period         text NOT NULL,  -- a calendar year, e.g. '2024'
    max_devices    integer NOT NULL CHECK (max_devices >= 0),
    PRIMARY KEY (recipient_kind, device_kind, period)
);

CREATE TABLE allocations (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL,
    request_id  uuid NOT NULL REFERENCES requests,
    device_id   uuid NOT NULL REFERENCES devices,
    period      text NOT NULL,
    status      text NOT NULL DEFAULT 'allocated' CHECK (status IN ('allocated', 'delivered', 'returned', 'cancelled')),
    delivery_id uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- A device serves one request at a time.
CREATE UNIQUE INDEX allocations_one_live_per_device ON allocations (device_id) WHERE status IN ('allocated', 'delivered');

CREATE TABLE handovers (
    id               uuid PRIMARY KEY,
    recipient        text NOT NULL REFERENCES organisations,
    device_ids       uuid[] NOT NULL,
    delivered_on     date NOT NULL,
    recorded_by      jsonb NOT NULL,
    acknowledged_at  timestamptz,
    next_follow_up   date,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE disposals (
    device_id             uuid PRIMARY KEY REFERENCES devices,
    recycler              text NOT NULL,
    disposed_on           date NOT NULL,
    method                text NOT NULL,
    certificate_reference text NOT NULL,
    recorded_by           jsonb NOT NULL,
    recorded_at           timestamptz NOT NULL DEFAULT now()
);

-- A returned device must be wiped again: sanitisation records up to this id no longer count.
ALTER TABLE devices ADD COLUMN wipe_epoch bigint NOT NULL DEFAULT 0;

-- The third milestone a donor hears of: every device of its batch has reached its end here
-- (delivered to a recipient, or disposed of / kept for parts).
ALTER TABLE batches ADD COLUMN delivered_announced_at timestamptz;
