-- Why: a new notifications database (a new environment, a changed topic prefix) reads topics kept
-- for ever from their first event; without a starting point it would e-mail their whole history
-- to the partners again. Events that happened before this moment are not e-mailed. An existing
-- database starts when it was created (its first migration), so nothing it owes is skipped.
CREATE TABLE mailer_start (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    started_at timestamptz NOT NULL
);
INSERT INTO mailer_start (started_at)
SELECT coalesce((SELECT min(applied_at) FROM schema_migrations WHERE component = 'notifications'), now());
