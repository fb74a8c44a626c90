-- Why: an event the broker can never accept (too large, say) must not stop a service's whole
-- outbox: the relay parks it (parked_at), holds back the later events of the same aggregate so
-- that their order holds, lets the other aggregates flow, and GET /ops/outbox lists it.
ALTER TABLE outbox ADD COLUMN parked_at timestamptz;
-- The relay looks up, per pass, which keys have a parked row; there are few.
CREATE INDEX outbox_parked ON outbox (topic, message_key, id) WHERE parked_at IS NOT NULL AND published_at IS NULL;
