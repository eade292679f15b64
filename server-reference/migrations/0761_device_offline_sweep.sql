-- The offline sweep (SPEC 13 `device.offline`): online devices by last heartbeat.
CREATE INDEX devices_online_last_seen ON devices (last_seen_at) WHERE status = 'online';
