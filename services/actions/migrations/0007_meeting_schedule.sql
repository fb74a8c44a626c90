-- Why: a Working Group or COPIL meeting is now scheduled before it is held (MeetingScheduled,
-- MeetingRescheduled, MeetingCancelled), then recorded as held with its attendees, the
-- organisations convened that did not attend (absent) and its minutes, under the same id. A
-- meeting has a status: 'scheduled', 'cancelled' or 'held'. Every row already here was recorded
-- after it was held (POST /meetings), so it is 'held', and was recorded held when it was
-- recorded. The annual report counts a meeting held by its cut-off: held_recorded_at, not
-- recorded_at (a meeting scheduled before the cut-off and held after it was not held by then).
ALTER TABLE meetings
    ADD COLUMN status              text NOT NULL DEFAULT 'held' CHECK (status IN ('scheduled', 'cancelled', 'held')),
    ADD COLUMN starts_at           timestamptz,
    ADD COLUMN ends_at             timestamptz,
    ADD COLUMN location            text NOT NULL DEFAULT '',
    ADD COLUMN invited             text[] NOT NULL DEFAULT '{}',
    ADD COLUMN absent              text[] NOT NULL DEFAULT '{}',
    ADD COLUMN minutes             text NOT NULL DEFAULT '',
    ADD COLUMN cancellation_reason text NOT NULL DEFAULT '',
    ADD COLUMN held_recorded_at    timestamptz,
    ADD COLUMN updated_at          timestamptz NOT NULL DEFAULT now();

UPDATE meetings SET held_recorded_at = recorded_at, updated_at = recorded_at;

-- Every writer says what it writes from now on.
ALTER TABLE meetings ALTER COLUMN status DROP DEFAULT;
-- A meeting scheduled has no day held yet, and no attendees.
ALTER TABLE meetings ALTER COLUMN held_on DROP NOT NULL;
ALTER TABLE meetings ALTER COLUMN attendees SET DEFAULT '{}';

ALTER TABLE meetings
    ADD CONSTRAINT meetings_held_has_its_day CHECK (status <> 'held' OR (held_on IS NOT NULL AND held_recorded_at IS NOT NULL)),
    ADD CONSTRAINT meetings_not_held_has_no_day CHECK (status = 'held' OR (held_on IS NULL AND held_recorded_at IS NULL)),
    ADD CONSTRAINT meetings_planned_has_its_start CHECK (status = 'held' OR starts_at IS NOT NULL),
    ADD CONSTRAINT meetings_ends_after_it_starts CHECK (ends_at IS NULL OR ends_at > starts_at);

CREATE INDEX meetings_scheduled ON meetings (starts_at) WHERE status = 'scheduled';
