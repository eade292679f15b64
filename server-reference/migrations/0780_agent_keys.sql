-- Device-bound agent credentials (SPEC 17): a device's Ed25519 public key (unpadded
-- base64url) lives with its tokens; an organization can require every device to have one.
-- Expand only: older servers ignore both columns.
ALTER TABLE device_credentials
  ADD COLUMN public_key text CHECK (public_key ~ '^[A-Za-z0-9_-]{43}$'),
  ADD COLUMN key_bound_at timestamptz,
  ADD CONSTRAINT device_credentials_key_bound CHECK ((public_key IS NULL) = (key_bound_at IS NULL));

ALTER TABLE organizations
  ADD COLUMN require_agent_key boolean NOT NULL DEFAULT false;

-- every replica forgets its cached authentication row when a key or the policy changes
DROP TRIGGER device_credentials_notify ON device_credentials;
CREATE TRIGGER device_credentials_notify
  AFTER INSERT OR DELETE OR UPDATE OF agent_hash, agent_pending_hash, agent_previous_hash,
    watchdog_hash, watchdog_pending_hash, watchdog_previous_hash, pending_expires_at,
    previous_grace_until, rotation_due_at, suspended, public_key
  ON device_credentials
  FOR EACH ROW EXECUTE FUNCTION breeze_notify_device_credentials();

CREATE OR REPLACE FUNCTION breeze_notify_org() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
     OR NEW.partner_id IS DISTINCT FROM OLD.partner_id
     OR NEW.require_agent_key IS DISTINCT FROM OLD.require_agent_key THEN
    PERFORM pg_notify('breeze_org_events', json_build_object('orgId', NEW.id)::text);
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER organizations_notify ON organizations;
CREATE TRIGGER organizations_notify
  AFTER UPDATE OF status, deleted_at, partner_id, require_agent_key ON organizations
  FOR EACH ROW EXECUTE FUNCTION breeze_notify_org();
