-- Session management (SPEC 16): when a login session (refresh family) was last used. Set at
-- login and on every refresh rotation, never on ordinary API requests (no write per
-- request). Expand only: older servers ignore the column; rows they open stay NULL (shown as
-- unknown). The table's row-level security (system scope or the user themself) is unchanged.
ALTER TABLE refresh_families ADD COLUMN last_used_at timestamptz;
