-- Why: the funding service owns the master list of EPNs (issue 11). An EPN is registered with
-- what the label charter looks at (opening hours open to all, devices for the public) and what
-- partners look for (publics, languages, accessibility); its label moves between candidate,
-- labelled, suspended and withdrawn, each decision kept in an append-only history with the
-- charter's criteria as they were checked. The criteria's thresholds are data, changed by the
-- Coordination without a release. The label register's version numbers the label decisions: its
-- row is the lock that serialises them, so the count of labelled EPNs each event carries is
-- exact, and readers that see two EPNs' events out of order keep the latest count by it.
CREATE TABLE epns (
    epn            text PRIMARY KEY,
    epn_name       text NOT NULL,
    operator       text NOT NULL,
    address        text,
    postcode       text,
    commune        text,
    hours_per_week numeric(4, 1) NOT NULL CHECK (hours_per_week BETWEEN 0 AND 168),
    computers      integer NOT NULL CHECK (computers >= 0),
    tablets        integer NOT NULL CHECK (tablets >= 0),
    publics        text[] NOT NULL DEFAULT '{}',
    languages      text[] NOT NULL DEFAULT '{}',
    accessible     boolean NOT NULL,
    label_status   text NOT NULL DEFAULT 'candidate'
                   CHECK (label_status IN ('candidate', 'labelled', 'suspended', 'withdrawn')),
    labelled_on    date,
    registered_by  jsonb NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX epns_by_commune ON epns (commune, epn);
CREATE INDEX epns_by_status ON epns (label_status, epn);
CREATE INDEX epns_by_operator ON epns (operator, epn);

CREATE TABLE epn_history (
    entry_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    epn             text NOT NULL REFERENCES epns (epn),
    kind            text NOT NULL CHECK (kind IN ('registered', 'details', 'label')),
    previous_status text,
    status          text,
    decided_on      date,
    criteria        jsonb NOT NULL DEFAULT '[]',
    changes         jsonb NOT NULL DEFAULT '[]',
    note            text,
    register_version bigint,
    actor           jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX epn_history_by_epn ON epn_history (epn, entry_id);
SELECT make_append_only('epn_history');

CREATE TABLE label_criteria (
    code     text PRIMARY KEY,
    measure  text NOT NULL CHECK (measure IN ('hours_per_week', 'devices', 'computers', 'tablets', 'accessible')),
    minimum  numeric(6, 1) NOT NULL CHECK (minimum >= 0),
    label_fr text NOT NULL,
    label_nl text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO label_criteria (code, measure, minimum, label_fr, label_nl) VALUES
    ('open-hours', 'hours_per_week', 15, 'Ouvert à tous au moins 15 heures par semaine',
     'Minstens 15 uur per week open voor iedereen'),
    ('devices', 'devices', 6, 'Au moins 6 appareils (ordinateurs et tablettes) pour le public',
     'Minstens 6 toestellen (computers en tablets) voor het publiek');

CREATE TABLE label_register (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL DEFAULT 0
);

-- The walking skeleton's labels become labelled EPNs of the register. What it did not ask (the
-- operator, the hours, the devices) is unknown: the EPN's own code stands for its operator and
-- the figures are 0 until the Coordination or the operator fills them in, so a later decision
-- checks the charter against real figures, not against guesses. The labels were announced by
-- EpnLabelled events already; the next label decision's event carries the exact count.
INSERT INTO epns (epn, epn_name, operator, commune, hours_per_week, computers, tablets, accessible,
                  label_status, labelled_on, registered_by, registered_at, updated_at)
SELECT epn, epn, epn, commune, 0, 0, 0, false, 'labelled', labelled_on, recorded_by, recorded_at, recorded_at
FROM epn_labels;
INSERT INTO epn_history (epn, kind, previous_status, status, decided_on, note, register_version, actor, recorded_at)
SELECT epn, 'label', 'candidate', 'labelled', labelled_on, 'label recorded before the register (migration 0004)',
       row_number() OVER (ORDER BY recorded_at, epn), recorded_by, recorded_at
FROM epn_labels;
INSERT INTO label_register (version) SELECT count(*) FROM epn_labels;
DROP TABLE epn_labels;
