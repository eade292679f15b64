-- Invalidation of the agents' authentication cache (SPEC 11): every change that decides
-- whether an agent token is accepted notifies at commit, so each replica forgets its
-- cached row within milliseconds. Status changes already notify (0500).
CREATE FUNCTION breeze_notify_device_credentials() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('breeze_device_events', json_build_object(
    'deviceId', coalesce(NEW.device_id, OLD.device_id), 'credentials', true)::text);
  RETURN NULL;
END $$;

CREATE TRIGGER device_credentials_notify
  AFTER INSERT OR DELETE OR UPDATE OF agent_hash, agent_pending_hash, agent_previous_hash,
    watchdog_hash, watchdog_pending_hash, watchdog_previous_hash, pending_expires_at,
    previous_grace_until, rotation_due_at, suspended
  ON device_credentials
  FOR EACH ROW EXECUTE FUNCTION breeze_notify_device_credentials();

CREATE FUNCTION breeze_notify_device_placement() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.org_id IS DISTINCT FROM OLD.org_id OR NEW.site_id IS DISTINCT FROM OLD.site_id
     OR NEW.agent_id IS DISTINCT FROM OLD.agent_id THEN
    PERFORM pg_notify('breeze_device_events', json_build_object(
      'deviceId', NEW.id, 'moved', true)::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER devices_placement_notify AFTER UPDATE OF org_id, site_id, agent_id ON devices
  FOR EACH ROW EXECUTE FUNCTION breeze_notify_device_placement();

CREATE FUNCTION breeze_notify_org() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
     OR NEW.partner_id IS DISTINCT FROM OLD.partner_id THEN
    PERFORM pg_notify('breeze_org_events', json_build_object('orgId', NEW.id)::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER organizations_notify AFTER UPDATE OF status, deleted_at, partner_id ON organizations
  FOR EACH ROW EXECUTE FUNCTION breeze_notify_org();

GRANT EXECUTE ON FUNCTION breeze_notify_device_credentials(), breeze_notify_device_placement(),
  breeze_notify_org() TO breeze_app;
