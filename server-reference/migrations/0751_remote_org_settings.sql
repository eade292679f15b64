-- Per-organization remote session limits (SPEC 12: idle timeout and maximum duration
-- "configurable per organization, clamped"). NULL keeps the server's setting; a value can
-- only tighten it (the effective limit is the smaller of the two).
ALTER TABLE organizations
  ADD COLUMN remote_idle_secs integer
    CHECK (remote_idle_secs IS NULL OR remote_idle_secs BETWEEN 10 AND 14400),
  ADD COLUMN remote_max_secs integer
    CHECK (remote_max_secs IS NULL OR remote_max_secs BETWEEN 10 AND 86400);
