-- Why: the plan's structure (4 axes, 17 chantiers, 66 actions), its organisations, each
-- action's status with a history kept forever, and indicators fed by people and by events.
CREATE TABLE organisations (
    code          text PRIMARY KEY,
    name          text NOT NULL,
    kind          text NOT NULL,
    working_group boolean NOT NULL DEFAULT false,
    copil         boolean NOT NULL DEFAULT false
);

CREATE TABLE axes (
    number   integer PRIMARY KEY,
    title_fr text NOT NULL,
    title_nl text NOT NULL DEFAULT ''
);

CREATE TABLE chantiers (
    number   integer PRIMARY KEY,
    axis     integer NOT NULL REFERENCES axes,
    title_fr text NOT NULL,
    title_nl text NOT NULL DEFAULT ''
);

CREATE TABLE actions (
    number        integer PRIMARY KEY,
    chantier      integer NOT NULL REFERENCES chantiers,
    title_fr      text NOT NULL,
    title_nl      text NOT NULL DEFAULT '',
    text_fr       text NOT NULL,
    lead          text NOT NULL REFERENCES organisations,
    partners      text[] NOT NULL DEFAULT '{}',
    publics       text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'not_started',
    traffic_light text,
    status_note   text NOT NULL DEFAULT '',
    version       integer NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Append-only: who changed what and when, one row per event about the action.
CREATE TABLE action_history (
    id            bigserial PRIMARY KEY,
    action_number integer NOT NULL REFERENCES actions,
    event_id      uuid NOT NULL UNIQUE,
    event_type    text NOT NULL,
    changes       jsonb NOT NULL,
    actor         jsonb NOT NULL,
    occurred_at   timestamptz NOT NULL
);
CREATE INDEX action_history_by_action ON action_history (action_number, occurred_at);
CREATE INDEX action_history_by_time ON action_history (occurred_at);

CREATE TABLE indicators (
    code          text PRIMARY KEY,
    action_number integer NOT NULL REFERENCES actions,
    name_fr       text NOT NULL,
    name_nl       text NOT NULL DEFAULT '',
    unit          text NOT NULL,
    baseline      numeric NOT NULL DEFAULT 0,
    target        numeric,
    period        text NOT NULL DEFAULT '',
    current_value numeric NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Which events feed which indicator: data, not code (seed/indicators.json).
CREATE TABLE indicator_mappings (
    id             serial PRIMARY KEY,
    event_type     text NOT NULL,
    conditions     jsonb NOT NULL,
    indicator_code text NOT NULL REFERENCES indicators,
    amount         text NOT NULL
);

CREATE TABLE measurements (
    id              bigserial PRIMARY KEY,
    indicator_code  text NOT NULL REFERENCES indicators,
    value           numeric NOT NULL,
    delta           numeric NOT NULL,
    measured_on     date NOT NULL,
    origin          text NOT NULL CHECK (origin IN ('manual', 'derived')),
    source          text NOT NULL DEFAULT '',
    source_event_id uuid,
    actor           jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- Replaying the same event never counts twice, even past the inbox.
    UNIQUE (indicator_code, source_event_id)
);
