-- Why: the funding cadastre (action 36, with CABAN): every line of funding of an EPN or a
-- non-profit (funder, programme, year, committed, paid, co-financing share), to answer "who funds
-- which EPN, how much, since when". A line is known by its beneficiary, funder, funder's name,
-- programme and year, so importing the same spreadsheet twice changes nothing. A line is complete
-- once its amount paid and co-financing share are known; the coverage of a year (labelled EPNs
-- with a complete line) is kept per year with the version of its latest announcement, and the
-- coverage register's row lock serialises those announcements, as the label register does.
CREATE TABLE funding_lines (
    line_id          uuid PRIMARY KEY,
    beneficiary      text NOT NULL,
    beneficiary_kind text NOT NULL CHECK (beneficiary_kind IN ('epn', 'non-profit', 'public-body')),
    commune          text,
    funder           text NOT NULL
                     CHECK (funder IN ('region', 'esf', 'federal', 'cocof', 'vgc', 'fwb', 'commune', 'foundation', 'other')),
    funder_name      text NOT NULL DEFAULT '',
    programme        text NOT NULL,
    year             integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    committed_eur    numeric(12, 2) NOT NULL CHECK (committed_eur > 0),
    paid_eur         numeric(12, 2) CHECK (paid_eur >= 0),
    cofinancing_pct  numeric(5, 2) CHECK (cofinancing_pct BETWEEN 0 AND 100),
    complete         boolean GENERATED ALWAYS AS (paid_eur IS NOT NULL AND cofinancing_pct IS NOT NULL) STORED,
    recorded_by      jsonb NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (beneficiary, funder, funder_name, programme, year)
);
CREATE INDEX funding_lines_by_year ON funding_lines (year, beneficiary);
CREATE INDEX funding_lines_by_commune ON funding_lines (commune, year);

CREATE TABLE cadastre_coverage (
    year             integer PRIMARY KEY,
    labelled_epns    integer NOT NULL,
    complete_epns    integer NOT NULL,
    coverage_version bigint NOT NULL
);

CREATE TABLE coverage_register (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL DEFAULT 0
);
INSERT INTO coverage_register (version) VALUES (0);
