-- Commands queued together (POST /api/v1/commands/bulk) share a batch id: the audit entry of
-- the batch names it, so every command traces back to who queued it and when.
ALTER TABLE device_commands ADD COLUMN batch_id uuid;
CREATE INDEX device_commands_batch ON device_commands (batch_id) WHERE batch_id IS NOT NULL;
