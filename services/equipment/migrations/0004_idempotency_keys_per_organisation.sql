-- Why: Idempotency-Keys now belong to the caller's organisation and are kept, with the first
-- reply, in the runtime's idempotency_keys table (services.runtime.uow.once). A key unique across
-- all organisations would let one partner's key collide with another's: the column stays, for the
-- record, without its UNIQUE constraint.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_idempotency_key_key;
