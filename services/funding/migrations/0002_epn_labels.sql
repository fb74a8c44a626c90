-- Why: the register of labelled EPNs; each label feeds action 11's indicator through an event.
CREATE TABLE epn_labels (
    epn         text PRIMARY KEY,
    commune     text,
    labelled_on date NOT NULL,
    recorded_by jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
