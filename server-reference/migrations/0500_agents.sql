-- Agent side (SPEC 8): credentials, source-IP history, heartbeat facts, commands.
--
-- Token hashes are SHA-256 hex of the raw `brz_` tokens (never the tokens). Every table has
-- org_id with row-level security enabled AND forced; the runtime role gets data privileges
-- only. Two triggers publish changes through PostgreSQL NOTIFY so every replica's WebSocket
-- hub learns about them (no in-memory-only correctness, SPEC 11).

-- One row per device: the three roles' tokens, each current / pending / previous.
CREATE TABLE device_credentials (
  device_id              uuid PRIMARY KEY REFERENCES devices(id),
  org_id                 uuid NOT NULL REFERENCES organizations(id),
  agent_hash             text CHECK (agent_hash ~ '^[0-9a-f]{64}$'),
  watchdog_hash          text CHECK (watchdog_hash ~ '^[0-9a-f]{64}$'),
  helper_hash            text CHECK (helper_hash ~ '^[0-9a-f]{64}$'),
  agent_pending_hash     text CHECK (agent_pending_hash ~ '^[0-9a-f]{64}$'),
  watchdog_pending_hash  text CHECK (watchdog_pending_hash ~ '^[0-9a-f]{64}$'),
  helper_pending_hash    text CHECK (helper_pending_hash ~ '^[0-9a-f]{64}$'),
  pending_expires_at     timestamptz,
  agent_previous_hash    text CHECK (agent_previous_hash ~ '^[0-9a-f]{64}$'),
  watchdog_previous_hash text CHECK (watchdog_previous_hash ~ '^[0-9a-f]{64}$'),
  helper_previous_hash   text CHECK (helper_previous_hash ~ '^[0-9a-f]{64}$'),
  previous_grace_until   timestamptz,
  rotation_due_at        timestamptz NOT NULL DEFAULT now() + interval '30 days',
  suspended              boolean NOT NULL DEFAULT false,
  suspended_reason       text CHECK (suspended_reason IS NULL OR length(suspended_reason) <= 200),
  suspended_at           timestamptz,
  last_ip                inet,
  -- bumped by every WebSocket connect; a socket whose generation is not the latest closes
  ws_generation          bigint NOT NULL DEFAULT 0,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CHECK ((agent_pending_hash IS NULL) = (pending_expires_at IS NULL)),
  CHECK (NOT suspended OR suspended_at IS NOT NULL)
);
CREATE INDEX device_credentials_org ON device_credentials (org_id);

-- Source IPs seen per device, for the de-duplicated `agent.source.ip.changed` audit.
CREATE TABLE agent_ip_history (
  device_id       uuid NOT NULL REFERENCES devices(id),
  ip              inet NOT NULL,
  org_id          uuid NOT NULL REFERENCES organizations(id),
  first_seen_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  last_audited_at timestamptz,
  PRIMARY KEY (device_id, ip)
);
CREATE INDEX agent_ip_history_org ON agent_ip_history (org_id);

-- The latest heartbeat facts (informational; kept out of `devices` so a beat is one cheap
-- upsert and the device row is only written when its status changes).
CREATE TABLE device_heartbeats (
  device_id      uuid PRIMARY KEY REFERENCES devices(id),
  org_id         uuid NOT NULL REFERENCES organizations(id),
  site_id        uuid NOT NULL,
  health         text NOT NULL CHECK (health IN ('ok', 'warning', 'error')),
  agent_version  text NOT NULL CHECK (length(agent_version) BETWEEN 1 AND 64),
  metrics        jsonb,
  uptime_seconds bigint,
  last_user      text CHECK (last_user IS NULL OR length(last_user) <= 255),
  pending_reboot boolean,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_heartbeats_org ON device_heartbeats (org_id);

-- Commands queued for a device and their results. `payload` is an AES-256-GCM envelope
-- (v3, AAD `device_commands.payload`) of the whole payload JSON.
CREATE TABLE device_commands (
  id            uuid PRIMARY KEY,
  org_id        uuid NOT NULL REFERENCES organizations(id),
  site_id       uuid NOT NULL,
  device_id     uuid NOT NULL REFERENCES devices(id),
  type          text NOT NULL CHECK (type ~ '^[a-z_]{1,64}$'),
  payload       text NOT NULL,
  status        text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'completed', 'failed', 'timeout')),
  created_by    uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz,
  completed_at  timestamptz,
  exit_code     integer,
  stdout        text CHECK (stdout IS NULL OR length(stdout) <= 5000000),
  stderr        text CHECK (stderr IS NULL OR length(stderr) <= 5000000),
  duration_ms   bigint CHECK (duration_ms IS NULL OR duration_ms >= 0),
  error         text CHECK (error IS NULL OR length(error) <= 10000),
  result        text CHECK (result IS NULL OR length(result) <= 5000000)
);
CREATE INDEX device_commands_pending ON device_commands (device_id, created_at)
  WHERE status = 'pending';
CREATE INDEX device_commands_device ON device_commands (device_id, id);
CREATE INDEX device_commands_org ON device_commands (org_id);

-- ---------------------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------------------

ALTER TABLE device_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY device_credentials_all ON device_credentials FOR ALL
  USING (breeze_has_org_access(org_id)) WITH CHECK (breeze_has_org_access(org_id));

ALTER TABLE agent_ip_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_ip_history FORCE ROW LEVEL SECURITY;
CREATE POLICY agent_ip_history_all ON agent_ip_history FOR ALL
  USING (breeze_has_org_access(org_id)) WITH CHECK (breeze_has_org_access(org_id));

ALTER TABLE device_heartbeats ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_heartbeats FORCE ROW LEVEL SECURITY;
CREATE POLICY device_heartbeats_all ON device_heartbeats FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id));

ALTER TABLE device_commands ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_commands FORCE ROW LEVEL SECURITY;
CREATE POLICY device_commands_all ON device_commands FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id));

-- ---------------------------------------------------------------------------------------
-- Cross-replica notifications (delivered at commit)
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION breeze_notify_device_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('breeze_device_events', json_build_object(
      'deviceId', NEW.id, 'agentId', NEW.agent_id, 'orgId', NEW.org_id,
      'status', NEW.status)::text);
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER devices_status_notify AFTER UPDATE OF status ON devices
  FOR EACH ROW EXECUTE FUNCTION breeze_notify_device_status();

CREATE FUNCTION breeze_notify_command() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('breeze_commands', json_build_object(
    'commandId', NEW.id, 'deviceId', NEW.device_id)::text);
  RETURN NEW;
END $$;

CREATE TRIGGER device_commands_notify AFTER INSERT ON device_commands
  FOR EACH ROW EXECUTE FUNCTION breeze_notify_command();

GRANT SELECT, INSERT, UPDATE, DELETE ON
  device_credentials, agent_ip_history, device_heartbeats, device_commands
TO breeze_app;
GRANT EXECUTE ON FUNCTION breeze_notify_device_status(), breeze_notify_command() TO breeze_app;
