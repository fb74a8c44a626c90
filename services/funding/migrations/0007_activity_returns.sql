-- Why: EPN activity returns (plan action 28, "automate the collection"): each EPN's quarterly
-- counts of visits, sessions and participants, by public, age band and gender — counts, never
-- people. A quarter has one current return per EPN (its latest revision, what the study reads);
-- every revision, the first included, is kept whole in an append-only history, so a correction
-- never erases what was first reported and who sent what stays on record. The current row is
-- also the lock that numbers corrections one at a time.
CREATE TABLE activity_returns (
    epn                text NOT NULL REFERENCES epns (epn),
    year               integer NOT NULL CHECK (year BETWEEN 2020 AND 2100),
    quarter            integer NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    revision           integer NOT NULL CHECK (revision >= 1),
    visits             integer NOT NULL CHECK (visits >= 0),
    sessions           integer NOT NULL CHECK (sessions >= 0),
    participants       integer NOT NULL CHECK (participants >= 0),
    by_public          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(by_public) = 'object'),
    by_age_band        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(by_age_band) = 'object'),
    by_gender          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(by_gender) = 'object'),
    first_submitted_on date NOT NULL,
    submitted_on       date NOT NULL CHECK (submitted_on >= first_submitted_on),
    submitted_by       jsonb NOT NULL,
    submitted_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (epn, year, quarter)
);
CREATE INDEX activity_returns_by_quarter ON activity_returns (year, quarter, epn);

CREATE TABLE activity_return_revisions (
    epn          text NOT NULL,
    year         integer NOT NULL,
    quarter      integer NOT NULL,
    revision     integer NOT NULL CHECK (revision >= 1),
    visits       integer NOT NULL CHECK (visits >= 0),
    sessions     integer NOT NULL CHECK (sessions >= 0),
    participants integer NOT NULL CHECK (participants >= 0),
    by_public    jsonb NOT NULL CHECK (jsonb_typeof(by_public) = 'object'),
    by_age_band  jsonb NOT NULL CHECK (jsonb_typeof(by_age_band) = 'object'),
    by_gender    jsonb NOT NULL CHECK (jsonb_typeof(by_gender) = 'object'),
    submitted_on date NOT NULL,
    submitted_by jsonb NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (epn, year, quarter, revision),
    FOREIGN KEY (epn, year, quarter) REFERENCES activity_returns (epn, year, quarter)
);
SELECT make_append_only('activity_return_revisions');
