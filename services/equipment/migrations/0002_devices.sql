-- Why: the device record. Organisations (donors, refurbishers, recipients), declared batches,
-- every device with its storage media, an append-only history from which its state is derived
-- (kept in columns for queries), NIST SP 800-88 sanitisation records per medium, certificates,
-- and custody transfers that the receiving side confirms.
CREATE TABLE organisations (
    code    text PRIMARY KEY,
    name    text NOT NULL,
    kind    text NOT NULL,
    commune text
);

CREATE TABLE batches (
    id          uuid PRIMARY KEY,
    donor       text NOT NULL REFERENCES organisations,
    reference   text NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT now(),
    -- When the donor was told each milestone (BatchMilestoneReached is sent once each).
    received_announced_at  timestamptz,
    sanitised_announced_at timestamptz,
    UNIQUE (donor, reference)
);

CREATE TABLE devices (
    id            uuid PRIMARY KEY,
    short_code    text NOT NULL UNIQUE,
    batch_id      uuid NOT NULL REFERENCES batches,
    donor         text NOT NULL REFERENCES organisations,
    asset_tag     text NOT NULL,
    serial        text NOT NULL DEFAULT '',
    kind          text NOT NULL,
    make          text NOT NULL DEFAULT '',
    model         text NOT NULL DEFAULT '',
    cpu           text NOT NULL DEFAULT '',
    ram_gb        integer,
    year          integer,
    custodian     text NOT NULL REFERENCES organisations,
    physical      text NOT NULL DEFAULT 'received',
    grade         text,
    final_spec    jsonb,
    sanitisation  text NOT NULL DEFAULT 'pending',
    allocation    text NOT NULL DEFAULT 'available',
    version       integer NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (donor, asset_tag)
);
CREATE INDEX devices_by_state ON devices (kind, physical, sanitisation, allocation);
CREATE INDEX devices_by_custodian ON devices (custodian);

CREATE TABLE media (
    device_id   uuid NOT NULL REFERENCES devices,
    medium_id   text NOT NULL,
    type        text NOT NULL,
    capacity_gb integer,
    serial      text NOT NULL DEFAULT '',
    PRIMARY KEY (device_id, medium_id)
);

-- Append-only: who did what, when, where. The state columns above are derived from it.
CREATE TABLE device_history (
    id         bigserial PRIMARY KEY,
    device_id  uuid NOT NULL REFERENCES devices,
    action     text NOT NULL,
    actor      jsonb NOT NULL,
    custodian  text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_history_by_device ON device_history (device_id, id);
CREATE FUNCTION device_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'device_history is append-only';
END $$;
CREATE TRIGGER device_history_append_only BEFORE UPDATE OR DELETE ON device_history
    FOR EACH ROW EXECUTE FUNCTION device_history_append_only();

CREATE TABLE sanitisations (
    id           bigserial PRIMARY KEY,
    device_id    uuid NOT NULL,
    medium_id    text NOT NULL,
    method       text NOT NULL CHECK (method IN ('clear', 'purge', 'destroy')),
    tool         text NOT NULL,
    tool_version text NOT NULL DEFAULT '',
    passes       integer NOT NULL DEFAULT 1 CHECK (passes >= 0),
    verification text NOT NULL,
    operator     text NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL CHECK (ended_at >= started_at),
    result       text NOT NULL CHECK (result IN ('passed', 'failed', 'passed_with_warnings')),
    warnings     text NOT NULL DEFAULT '',
    recorded_by  jsonb NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (device_id, medium_id) REFERENCES media
);
CREATE INDEX sanitisations_by_device ON sanitisations (device_id, id);

CREATE TABLE certificates (
    id         uuid PRIMARY KEY,
    device_id  uuid NOT NULL REFERENCES devices,
    sha256     text NOT NULL,
    content    bytea NOT NULL,
    issued_on  date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transfers (
    id           uuid PRIMARY KEY,
    from_org     text NOT NULL REFERENCES organisations,
    to_org       text NOT NULL REFERENCES organisations,
    device_ids   uuid[] NOT NULL,
    status       text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'confirmed', 'cancelled')),
    proposed_by  jsonb NOT NULL,
    proposed_at  timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz
);

-- Defence in depth for the rule the use cases enforce: a device whose sanitisation is not
-- complete can never be reserved, allocated or delivered, whatever path writes the row.
CREATE FUNCTION devices_sanitised_before_allocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.allocation IN ('reserved', 'allocated', 'delivered') AND NEW.sanitisation NOT IN ('wiped', 'destroyed') THEN
        RAISE EXCEPTION 'device % cannot be % while its sanitisation is %', NEW.id, NEW.allocation, NEW.sanitisation
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER devices_sanitised_before_allocation BEFORE INSERT OR UPDATE ON devices
    FOR EACH ROW EXECUTE FUNCTION devices_sanitised_before_allocation();
