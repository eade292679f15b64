-- Checkpoint key ids (issue 15, finding 15): `serve` checks at startup that every key id of
-- the stored checkpoints is in its ring and that the latest checkpoint of each verifies.
-- This index makes that a scan of the distinct key ids instead of the whole table.
CREATE INDEX audit_checkpoints_key_id ON audit_checkpoints (key_id, created_at);
