-- The equipment and funding read models (read_models/equipment.py, read_models/funding.py): built
-- from the events alone, emptied and rebuilt with the others. Organisations (codes), counts,
-- amounts and dates only: the events name no person, and neither do these tables.

-- Equipment: one row per event (or per fact an event states once), kept with the moment it
-- happened, so that the figures can be taken at any date as the equipment service's GET /figures
-- takes them (everything before the end of that day in Brussels).

-- BatchDeclared: the devices a declaration added to a batch (a batch completed later declares again).
CREATE TABLE eq_declarations (
    event_id       uuid PRIMARY KEY,
    batch_id       text NOT NULL,
    donor          text NOT NULL,
    reference      text NOT NULL,
    devices        jsonb NOT NULL,        -- {kind: count}
    total          int NOT NULL,
    occurred_at    timestamptz NOT NULL
);
CREATE INDEX eq_declarations_batch ON eq_declarations (batch_id);

-- DevicesTransferred: custody moved (counts by kind, the batches the devices came from).
CREATE TABLE eq_transfers (
    transfer_id    text PRIMARY KEY,
    from_org       text NOT NULL,
    to_org         text NOT NULL,
    devices        jsonb NOT NULL,
    total          int NOT NULL,
    batches        text[] NOT NULL,
    occurred_at    timestamptz NOT NULL
);

-- The events about one device: DeviceSanitised, DeviceConditionChanged, DeviceReturned,
-- DeviceDisposed. ``seq`` is the order they were applied in: one device's events share a subject,
-- hence a partition, hence their order.
CREATE TABLE eq_device_events (
    event_id       uuid PRIMARY KEY,
    seq            bigserial NOT NULL,
    event_type     text NOT NULL,
    device_id      text NOT NULL,
    batch_id       text,
    donor          text,
    kind           text NOT NULL,
    sanitisation   text,                  -- DeviceSanitised
    physical       text,                  -- DeviceConditionChanged ('disposed' for DeviceDisposed)
    grade          text,
    occurred_at    timestamptz NOT NULL
);
CREATE INDEX eq_device_events_device ON eq_device_events (device_id, seq);

-- DevicesAllocated: one per request served by an allocation run.
CREATE TABLE eq_allocations (
    allocation_run text NOT NULL,
    request_id     text NOT NULL,
    recipient      text NOT NULL,
    recipient_kind text NOT NULL,
    devices        jsonb NOT NULL,
    total          int NOT NULL,
    occurred_at    timestamptz NOT NULL,
    PRIMARY KEY (allocation_run, request_id)
);

-- DevicesDelivered: one per delivery and donor (and public, commune) of it.
CREATE TABLE eq_deliveries (
    event_id       uuid PRIMARY KEY,
    delivery_id    text NOT NULL,
    recipient      text NOT NULL,
    recipient_kind text NOT NULL,
    donor          text,
    donor_kind     text,
    devices        jsonb NOT NULL,
    total          int NOT NULL,
    public         text,
    commune        text,
    delivered_on   date NOT NULL,
    occurred_at    timestamptz NOT NULL
);

-- BatchMilestoneReached: a batch's counts when it reached a milestone.
CREATE TABLE eq_batch_milestones (
    batch_id       text NOT NULL,
    milestone      text NOT NULL,
    donor          text NOT NULL,
    reference      text NOT NULL,
    declared       int NOT NULL,
    received       int NOT NULL,
    wiped          int NOT NULL,
    failed         int NOT NULL,
    delivered      int NOT NULL,
    occurred_at    timestamptz NOT NULL,
    PRIMARY KEY (batch_id, milestone)
);

-- DeliveryFollowUpDue: every six months after a delivery, a check that the devices are in use.
CREATE TABLE eq_follow_ups (
    delivery_id    text NOT NULL,
    due_on         date NOT NULL,
    recipient      text NOT NULL,
    delivered_on   date NOT NULL,
    devices        int NOT NULL,
    occurred_at    timestamptz NOT NULL,
    PRIMARY KEY (delivery_id, due_on)
);

-- Funding: the latest word on each call, application, cadastre line, grant and report.

CREATE TABLE fu_calls (
    call_code      text PRIMARY KEY,
    management     text NOT NULL,
    call_kind      text NOT NULL,
    funder         text NOT NULL,
    programme      text NOT NULL,
    title_fr       text NOT NULL,
    title_nl       text NOT NULL,
    opens_on       date NOT NULL,
    closes_at      timestamptz NOT NULL,
    budget_eur     numeric(12, 2),
    action_number  int,
    last_reminder  text                   -- CallClosingSoon's latest stage
);

CREATE TABLE fu_applications (
    application_id text PRIMARY KEY,
    call_code      text NOT NULL,
    applicant      text NOT NULL,
    applicant_kind text,
    requested_eur  numeric(12, 2),
    submitted_at   timestamptz,
    status         text NOT NULL,         -- submitted, granted, partially-granted, refused
    amount_eur     numeric(12, 2),
    decided_on     date
);

-- The funding cadastre's lines, as the funding service keeps them (FundingLineRecorded, then
-- FundingLineChanged's new values).
CREATE TABLE fu_lines (
    line_id          text PRIMARY KEY,
    beneficiary      text NOT NULL,
    beneficiary_kind text NOT NULL,
    commune          text,
    funder           text NOT NULL,
    funder_name      text NOT NULL DEFAULT '',
    programme        text NOT NULL,
    year             int NOT NULL,
    committed_eur    numeric(12, 2) NOT NULL,
    paid_eur         numeric(12, 2),
    cofinancing_pct  numeric(5, 2),
    complete         boolean NOT NULL
);

CREATE TABLE fu_grants (
    grant_id       text PRIMARY KEY,
    call_code      text NOT NULL,
    beneficiary    text NOT NULL,
    closed_on      date
);

-- The reports a grant's agreement asks (GrantAgreementSigned), moved by an extension
-- (GrantAmended), submitted and reviewed (GrantReportSubmitted, GrantReportReviewed), reminded
-- (ReportingReminder).
CREATE TABLE fu_duties (
    duty_id        text PRIMARY KEY,
    grant_id       text NOT NULL,
    beneficiary    text NOT NULL,
    kind           text NOT NULL,
    due_on         date NOT NULL,
    status         text NOT NULL DEFAULT 'pending',   -- pending, submitted, approved, returned
    submitted_on   date,
    reviewed_on    date,
    last_reminder  text
);
CREATE INDEX fu_duties_open ON fu_duties (due_on) WHERE status IN ('pending', 'returned');
