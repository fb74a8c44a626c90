-- Why: partners (organisations with a contact address and a language), what they subscribe
-- to, and every e-mail delivery with its state: the log of who was told what, and when.
CREATE TABLE partners (
    code          text PRIMARY KEY,
    name          text NOT NULL,
    email         text NOT NULL,
    language      text NOT NULL CHECK (language IN ('fr', 'nl')),
    working_group boolean NOT NULL DEFAULT false,
    copil         boolean NOT NULL DEFAULT false,
    active        boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    partner_code text NOT NULL REFERENCES partners ON DELETE CASCADE,
    event_type   text NOT NULL,
    PRIMARY KEY (partner_code, event_type)
);
CREATE INDEX subscriptions_by_type ON subscriptions (event_type);

-- One row per (partner, event): the e-mail is rendered when the event is consumed and sent
-- by the mailer loop; a redelivered event finds its row and adds nothing.
CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    partner_code    text NOT NULL REFERENCES partners,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    correlation_id  uuid NOT NULL,
    email           text NOT NULL,
    language        text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (partner_code, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
