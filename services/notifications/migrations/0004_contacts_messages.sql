-- Why: one address per organisation and one e-mail per event per partner told partners too much
-- and too little (one season sent 303 e-mails to each of 12 partners, and nobody could mute a
-- topic or follow one action). An organisation now has contacts (persons, its functional mailbox,
-- its systems' webhooks), each with subscriptions filtered by axis, chantier, action, organisation,
-- commune, EPN or call, preferences per topic and channel (immediate, daily, weekly, off) and
-- quiet hours. Every message to a contact on a channel is one row of `messages`, the delivery log.
-- Contacts are the only personal data in Passerelle: they live here alone (see the README's
-- erasure command) and events name them by number only.

-- The organisation's roles in the plan, which make it a member of a meeting or the addressee of
-- its own business (working_group and copil were the only two).
ALTER TABLE partners ADD COLUMN roles text[] NOT NULL DEFAULT '{}'
    CHECK (roles <@ ARRAY['working_group', 'copil', 'action_owner', 'epn_operator', 'refurbisher', 'donor',
                          'recipient', 'grant_holder']::text[]);
UPDATE partners SET roles = array_remove(ARRAY[CASE WHEN working_group THEN 'working_group' END,
                                               CASE WHEN copil THEN 'copil' END], NULL);

CREATE TABLE contacts (
    id                 bigserial PRIMARY KEY,
    partner_code       text NOT NULL REFERENCES partners ON DELETE CASCADE,
    -- person: someone at the organisation (name and work address); mailbox: the organisation's
    -- functional address (the partner's "email", one per organisation); webhook: a system of the
    -- organisation that receives signed HTTP posts.
    kind               text NOT NULL CHECK (kind IN ('person', 'mailbox', 'webhook')),
    name               text CHECK (length(name) <= 200),
    email              text CHECK (length(email) <= 254),
    webhook_url        text CHECK (length(webhook_url) <= 2000),
    language           text NOT NULL CHECK (language IN ('fr', 'nl')),
    -- Where a person or mailbox is told: e-mail, and the in-app feed the dashboard reads.
    channels           text[] NOT NULL DEFAULT '{email,feed}' CHECK (channels <@ ARRAY['email', 'feed', 'webhook']::text[]),
    -- Quiet hours, Brussels local time (from > until spans midnight): non-critical messages wait.
    quiet_from         time,
    quiet_until        time,
    hard_bounces       integer NOT NULL DEFAULT 0 CHECK (hard_bounces >= 0),
    suspended_at       timestamptz,  -- its channel (e-mail, or webhook) is suspended until the address is fixed
    suspended_reason   text,
    active             boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'webhook') = (webhook_url IS NOT NULL)),
    CHECK (kind = 'webhook' OR email IS NOT NULL),
    CHECK ((quiet_from IS NULL) = (quiet_until IS NULL))
);
CREATE UNIQUE INDEX contacts_one_mailbox ON contacts (partner_code) WHERE kind = 'mailbox';
CREATE INDEX contacts_by_partner ON contacts (partner_code);

INSERT INTO contacts (partner_code, kind, email, language, channels)
SELECT code, 'mailbox', email, language, '{email}' FROM partners;
ALTER TABLE partners DROP COLUMN email, DROP COLUMN working_group, DROP COLUMN copil;

-- A webhook's signing secrets: the newest signs, and during a rotation the previous one signs too
-- until it expires, so the receiver can switch without losing a message.
CREATE TABLE webhook_secrets (
    contact_id bigint NOT NULL REFERENCES contacts ON DELETE CASCADE,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz,
    PRIMARY KEY (contact_id, created_at)
);

-- Subscriptions belong to contacts now, with filters: {"action": ["12"], "commune": ["Anderlecht"]}
-- (every key given must match one of its values; no key: every event of the type).
ALTER TABLE subscriptions RENAME TO subscriptions_by_partner;
CREATE TABLE subscriptions (
    id         bigserial PRIMARY KEY,
    contact_id bigint NOT NULL REFERENCES contacts ON DELETE CASCADE,
    event_type text NOT NULL,
    filters    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(filters) = 'object'),
    UNIQUE (contact_id, event_type, filters)
);
CREATE INDEX subscriptions_by_event_type ON subscriptions (event_type);
INSERT INTO subscriptions (contact_id, event_type)
SELECT c.id, s.event_type FROM subscriptions_by_partner s JOIN contacts c ON c.partner_code = s.partner_code AND c.kind = 'mailbox';
DROP TABLE subscriptions_by_partner;

-- How often a contact hears about a topic (an event type, or '*' for every one) on a channel.
-- No row: immediately. Critical messages ignore it (see domain.CRITICAL).
CREATE TABLE preferences (
    contact_id bigint NOT NULL REFERENCES contacts ON DELETE CASCADE,
    topic      text NOT NULL,
    channel    text NOT NULL CHECK (channel IN ('email', 'feed', 'webhook')),
    frequency  text NOT NULL CHECK (frequency IN ('immediate', 'daily', 'weekly', 'off')),
    PRIMARY KEY (contact_id, topic, channel)
);

-- One row per (contact, channel, thing told): an event's id, or a digest's or a reminder's key.
-- Committed on its own before anything is sent, so a redelivered event finds its row and a
-- resend after a crash carries the same Message-ID. An erased contact's rows stay, anonymised
-- (contact_id and address emptied): who was told what, when, and how it went.
CREATE TABLE messages (
    id              bigserial PRIMARY KEY,
    contact_id      bigint REFERENCES contacts ON DELETE SET NULL,
    partner_code    text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'feed', 'webhook')),
    topic_key       text NOT NULL,
    event_id        uuid,
    event_type      text NOT NULL,
    correlation_id  uuid NOT NULL,
    address         text,
    language        text NOT NULL CHECK (language IN ('fr', 'nl')),
    subject         text NOT NULL,
    body            text NOT NULL,
    link            text,
    critical        boolean NOT NULL DEFAULT false,
    unsubscribe     text,  -- the topic its one-click unsubscribe link mutes (none: critical, or not e-mail)
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'bounced', 'suppressed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    read_at         timestamptz,
    UNIQUE (contact_id, channel, topic_key)
);
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX messages_by_partner ON messages (partner_code, id);
CREATE INDEX messages_feed ON messages (contact_id, id) WHERE channel = 'feed';

INSERT INTO messages (contact_id, partner_code, channel, topic_key, event_id, event_type, correlation_id, address,
                      language, subject, body, status, attempts, last_error, next_attempt_at, created_at, sent_at)
SELECT c.id, d.partner_code, 'email', d.event_id::text, d.event_id, d.event_type, d.correlation_id, d.email,
       d.language, d.subject, d.body, d.status, d.attempts, d.last_error, d.next_attempt_at, d.created_at, d.sent_at
FROM deliveries d LEFT JOIN contacts c ON c.partner_code = d.partner_code AND c.kind = 'mailbox'
ORDER BY d.id;
DROP TABLE deliveries;

-- What digests are made of: each event the mailer handled since the service first started, once
-- (a projection of the events consumed), and for each contact that hears about it in a digest,
-- one entry until its digest is built. A digest takes the entries, not a time window, so an
-- event consumed late is in the next digest rather than in none.
CREATE TABLE digest_items (
    seq         bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    event_type  text NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb NOT NULL,
    facets      jsonb NOT NULL DEFAULT '{}',
    consumed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX digest_items_by_time ON digest_items (consumed_at);

CREATE TABLE digest_entries (
    contact_id bigint NOT NULL REFERENCES contacts ON DELETE CASCADE,
    frequency  text NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    item_seq   bigint NOT NULL REFERENCES digest_items ON DELETE CASCADE,
    PRIMARY KEY (contact_id, frequency, item_seq)
);

-- The plan's actions as the actions service announces them (consumer plan-directory): which axis
-- and chantier an action is in and who leads it, for filters and for owners' automatic messages.
CREATE TABLE plan_actions (
    action_number integer PRIMARY KEY CHECK (action_number BETWEEN 1 AND 66),
    axis          integer NOT NULL,
    chantier      integer NOT NULL,
    lead          text NOT NULL,
    partners      text[] NOT NULL DEFAULT '{}'
);

-- Working Group and COPIL meetings as the actions service schedules them (consumer
-- plan-directory): when to remind the members the day before and to send the pre-meeting digest.
CREATE TABLE meetings (
    meeting_id        text PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('working_group', 'copil')),
    starts_at         timestamptz,
    data              jsonb NOT NULL,
    status            text NOT NULL CHECK (status IN ('scheduled', 'cancelled', 'held')),
    held_on           date,
    reminded_at       timestamptz,
    digest_sent_at    timestamptz
);
CREATE INDEX meetings_upcoming ON meetings (starts_at) WHERE status = 'scheduled';

-- Keys this service makes for itself on first start (the one-click unsubscribe links' and the
-- bounce addresses' HMAC keys): random per deployment, never in the repository.
CREATE TABLE service_secrets (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

-- Who holds each grant (consumer mailer, from GrantAwarded and GrantAgreementSigned): the events
-- about a grant that do not name its beneficiary (an amendment, a checked claim, a reviewed
-- report) still reach the holder.
CREATE TABLE grant_holders (
    grant_id    text PRIMARY KEY,
    beneficiary text NOT NULL
);
