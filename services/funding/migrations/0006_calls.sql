-- Why: calls for projects and what follows a decision (issue 11). Calls are run (regional calls,
-- with an envelope the register enforces) or tracked (federal and ESF calls, the funder's: kept to
-- remind partners of their deadlines). An application is one organisation's per call; reviews
-- score it; its decision may create a grant. A grant's agreement has payment tranches and
-- reporting duties; amendments, claims, payments and reclaims are kept as they happen. Reminders
-- of deadlines are recorded once per subject and stage: the record's primary key is what makes
-- the deadline checker replay-safe (two replicas, a restart, a re-run all find it taken).
CREATE TABLE calls (
    call_code       text PRIMARY KEY,
    management      text NOT NULL CHECK (management IN ('run', 'tracked')),
    call_kind       text NOT NULL,
    funder          text NOT NULL,
    programme       text NOT NULL,
    title_fr        text NOT NULL,
    title_nl        text NOT NULL,
    opens_on        date NOT NULL,
    closes_at       timestamptz NOT NULL,
    budget_eur      numeric(12, 2) CHECK (budget_eur > 0),
    cofinancing_pct numeric(5, 2) CHECK (cofinancing_pct BETWEEN 0 AND 100),
    cost_option     text NOT NULL,
    action_number   integer CHECK (action_number BETWEEN 1 AND 66),
    public          text,
    eligible_kinds  text[] NOT NULL DEFAULT '{}',
    opened_by       jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (management = 'tracked' OR budget_eur IS NOT NULL)
);

CREATE TABLE applications (
    application_id uuid PRIMARY KEY,
    call_code      text NOT NULL REFERENCES calls (call_code),
    applicant      text NOT NULL,
    applicant_kind text NOT NULL,
    requested_eur  numeric(12, 2) NOT NULL CHECK (requested_eur > 0),
    submitted_at   timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'submitted'
                   CHECK (status IN ('submitted', 'granted', 'partially-granted', 'refused')),
    amount_eur     numeric(12, 2),
    decided_on     date,
    grant_id       uuid,
    submitted_by   jsonb NOT NULL,
    UNIQUE (call_code, applicant)
);

CREATE TABLE reviews (
    application_id uuid NOT NULL REFERENCES applications (application_id),
    reviewer       text NOT NULL,
    score          integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    comment        text,
    reviewed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, reviewer)
);

ALTER TABLE grants
    ADD COLUMN application_id uuid REFERENCES applications (application_id),
    ADD COLUMN status text NOT NULL DEFAULT 'awarded' CHECK (status IN ('awarded', 'agreed', 'closed')),
    ADD COLUMN signed_on date,
    ADD COLUMN ends_on date,
    ADD COLUMN closed_on date;

CREATE TABLE tranches (
    grant_id   uuid NOT NULL REFERENCES grants (grant_id),
    number     integer NOT NULL CHECK (number >= 1),
    amount_eur numeric(12, 2) NOT NULL CHECK (amount_eur > 0),
    due_on     date NOT NULL,
    PRIMARY KEY (grant_id, number)
);

CREATE TABLE reporting_duties (
    duty_id      uuid PRIMARY KEY,
    grant_id     uuid NOT NULL REFERENCES grants (grant_id),
    kind         text NOT NULL CHECK (kind IN ('interim', 'final')),
    due_on       date NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted', 'approved', 'returned')),
    submitted_on date,
    participants jsonb,
    reviewed_on  date,
    note         text
);
CREATE INDEX reporting_duties_open ON reporting_duties (due_on) WHERE status IN ('pending', 'returned');

CREATE TABLE grant_amendments (
    amendment_id uuid PRIMARY KEY,
    grant_id     uuid NOT NULL REFERENCES grants (grant_id),
    kind         text NOT NULL CHECK (kind IN ('extension', 'budget-revision')),
    amended_on   date NOT NULL,
    changes      jsonb NOT NULL,
    actor        jsonb NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
SELECT make_append_only('grant_amendments');

CREATE TABLE payment_claims (
    claim_id     uuid PRIMARY KEY,
    grant_id     uuid NOT NULL REFERENCES grants (grant_id),
    claimed_eur  numeric(12, 2) NOT NULL CHECK (claimed_eur > 0),
    submitted_on date NOT NULL,
    status       text NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'checked', 'paid')),
    accepted_eur numeric(12, 2),
    checked_on   date
);

CREATE TABLE payments (
    payment_id uuid PRIMARY KEY,
    grant_id   uuid NOT NULL REFERENCES grants (grant_id),
    amount_eur numeric(12, 2) NOT NULL CHECK (amount_eur > 0),
    paid_on    date NOT NULL,
    claim_id   uuid REFERENCES payment_claims (claim_id),
    tranche    integer,
    actor      jsonb NOT NULL
);
SELECT make_append_only('payments');

CREATE TABLE reclaims (
    reclaim_id uuid PRIMARY KEY,
    grant_id   uuid NOT NULL REFERENCES grants (grant_id),
    amount_eur numeric(12, 2) NOT NULL CHECK (amount_eur > 0),
    reason     text NOT NULL CHECK (reason IN ('overpayment', 'ineligible-costs', 'unspent')),
    issued_on  date NOT NULL,
    actor      jsonb NOT NULL
);
SELECT make_append_only('reclaims');

CREATE TABLE reminders (
    subject_kind text NOT NULL CHECK (subject_kind IN ('call', 'duty', 'return')),
    subject_id   text NOT NULL,
    stage        text NOT NULL CHECK (stage IN ('t-14', 't-7', 'due', 'overdue')),
    due_on       date NOT NULL,
    announced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_kind, subject_id, stage, due_on)
);
