-- The dashboard's read models: built from the events alone, so that they can be dropped and rebuilt
-- from the topics (python -m services.dashboard rebuild). Every table but api_keys and sessions is
-- a projection; none is the record of anything.

-- Every event as it came: the live feed, and the audit trail of one flow (correlation_id).
CREATE TABLE feed_events (
    position       bigserial PRIMARY KEY,
    event_id       uuid NOT NULL UNIQUE,
    topic          text NOT NULL,          -- the registry's name, without the deployment's prefix
    event_type     text NOT NULL,
    source         text NOT NULL,
    subject        text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    correlation_id uuid NOT NULL,
    causation_id   uuid,
    actor          text NOT NULL,          -- the acting organisation
    organisations  text[] NOT NULL DEFAULT '{}',
    action_number  int,
    data           jsonb NOT NULL
);
CREATE INDEX feed_events_correlation ON feed_events (correlation_id, occurred_at);
CREATE INDEX feed_events_type ON feed_events (event_type, position);
CREATE INDEX feed_events_action ON feed_events (action_number, position) WHERE action_number IS NOT NULL;
CREATE INDEX feed_events_organisations ON feed_events USING gin (organisations);

-- The plan: actions with their owners, status and progress.
CREATE TABLE plan_actions (
    number         int PRIMARY KEY,
    axis           int NOT NULL,
    chantier       int NOT NULL,
    title_fr       text NOT NULL,
    title_nl       text NOT NULL DEFAULT '',
    lead           text NOT NULL,
    partners       text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL,
    traffic_light  text,
    progress       double precision NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE plan_indicators (
    code           text PRIMARY KEY,
    action_number  int NOT NULL,
    name_fr        text NOT NULL,
    name_nl        text NOT NULL DEFAULT '',
    unit           text NOT NULL,
    baseline       double precision NOT NULL DEFAULT 0,
    target         double precision,
    period         text NOT NULL DEFAULT '',  -- 'yearly': the current value is the latest year's
    value          double precision,
    measured_on    date
);

-- One point per measurement, for the small chart of an indicator's history.
CREATE TABLE plan_indicator_points (
    event_id       uuid PRIMARY KEY,
    code           text NOT NULL,
    measured_on    date NOT NULL,
    value          double precision NOT NULL,
    occurred_at    timestamptz NOT NULL
);
CREATE INDEX plan_indicator_points_code ON plan_indicator_points (code, measured_on, occurred_at);

CREATE TABLE plan_milestones (
    id             text PRIMARY KEY,
    action_number  int NOT NULL,
    title_fr       text NOT NULL,
    title_nl       text NOT NULL DEFAULT '',
    planned_on     date NOT NULL,
    reached_on     date,
    overdue_as_of  date
);

CREATE TABLE plan_meetings (
    id             text PRIMARY KEY,
    kind           text NOT NULL,
    starts_at      timestamptz,
    held_on        date,
    status         text NOT NULL          -- scheduled, cancelled, held
);

CREATE TABLE plan_reports (
    id             text PRIMARY KEY,
    action_number  int NOT NULL,
    period         text NOT NULL,
    status         text NOT NULL
);

-- A login: a random token in an HttpOnly cookie (its hash here) for an API key of this service.
-- Not a projection: a rebuild keeps it.
CREATE TABLE sessions (
    token_hash     text PRIMARY KEY,
    key_id         text NOT NULL,
    organisation   text NOT NULL,
    role           text NOT NULL,
    csrf           text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
