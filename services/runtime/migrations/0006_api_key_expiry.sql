-- Why: a key given to a partner for a season, or to a contractor, should stop working on its own;
-- an expired key is refused like a revoked one and its row stays (events name its key id).
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
