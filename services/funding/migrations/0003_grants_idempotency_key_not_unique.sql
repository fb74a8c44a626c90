-- Why: Idempotency-Keys now belong to the caller's organisation and live in the runtime's
-- idempotency_keys table (the same key from two organisations is two grants); the column stays
-- as a record of the key a grant was created with, no longer unique.
ALTER TABLE grants DROP CONSTRAINT grants_idempotency_key_key;
