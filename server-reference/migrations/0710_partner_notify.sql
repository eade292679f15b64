-- A partner's status and deletion notify (issue 15 finding 2): the agents of a suspended or
-- deleted partner lose their WebSockets and cached authentication rows at once, on every
-- replica, as an organization's agents do (0610). The payload names the partner only.
CREATE FUNCTION breeze_notify_partner() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at THEN
    PERFORM pg_notify('breeze_org_events', json_build_object('partnerId', NEW.id)::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER partners_notify AFTER UPDATE OF status, deleted_at ON partners
  FOR EACH ROW EXECUTE FUNCTION breeze_notify_partner();

GRANT EXECUTE ON FUNCTION breeze_notify_partner() TO breeze_app;
