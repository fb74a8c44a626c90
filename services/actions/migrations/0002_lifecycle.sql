-- Why: progress with a published roll-up rule, milestones, progress reports, governance
-- meetings, manual measurements with external ids, and the event data on every history row
-- (so the annual report can be rebuilt "as of" any date from the history alone).
ALTER TABLE actions
    ADD COLUMN progress      numeric(5, 2) NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    ADD COLUMN progress_mode text NOT NULL DEFAULT 'manual' CHECK (progress_mode IN ('manual', 'milestones')),
    ADD COLUMN weight        numeric NOT NULL DEFAULT 1 CHECK (weight > 0);

ALTER TABLE action_history ADD COLUMN data jsonb NOT NULL DEFAULT '{}';

ALTER TABLE measurements ADD COLUMN external_id text UNIQUE;

CREATE TABLE milestones (
    id                   uuid PRIMARY KEY,
    action_number        integer NOT NULL REFERENCES actions,
    title_fr             text NOT NULL,
    title_nl             text NOT NULL DEFAULT '',
    planned_on           date NOT NULL,
    reached_on           date,
    -- Set when MilestoneOverdue was announced; cleared when the milestone is re-planned.
    overdue_announced_on date,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX milestones_by_action ON milestones (action_number);
CREATE INDEX milestones_open ON milestones (planned_on) WHERE reached_on IS NULL AND overdue_announced_on IS NULL;

CREATE TABLE progress_reports (
    id            uuid PRIMARY KEY,
    action_number integer NOT NULL REFERENCES actions,
    period        text NOT NULL,
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted', 'approved', 'returned')),
    body          text NOT NULL DEFAULT '',
    comment       text NOT NULL DEFAULT '',
    created_by    jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (action_number, period)
);

CREATE TABLE meetings (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('working_group', 'copil')),
    held_on     date NOT NULL,
    attendees   text[] NOT NULL,
    agenda      jsonb NOT NULL DEFAULT '[]',
    recorded_by jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meetings_by_date ON meetings (held_on);

CREATE TABLE decisions (
    id            uuid PRIMARY KEY,
    meeting_id    uuid NOT NULL REFERENCES meetings,
    action_number integer NOT NULL REFERENCES actions,
    decision      text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE annual_reports (
    id           text PRIMARY KEY,
    year         integer NOT NULL,
    as_of        date NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by jsonb NOT NULL
);

CREATE TABLE annual_report_files (
    report_id text NOT NULL REFERENCES annual_reports ON DELETE CASCADE,
    name      text NOT NULL,
    sha256    text NOT NULL,
    content   bytea NOT NULL,
    PRIMARY KEY (report_id, name)
);
