-- Permission cache versions (SPEC 5, issue 16). Every replica caches a user's resolved
-- permissions (memberships, organization records, role) for at most five minutes, under the
-- version counters read with the user's row on every request: a change committed on any
-- replica makes every replica's cached entry stale on its next request, with no window.
--
-- The counters change only through triggers, so no write path (HTTP, CLI, bootstrap, SQL by
-- hand) can forget an invalidation:
--   * a user's counter: any change to their system, partner or organization membership;
--   * the global counter (the nil UUID): any role change, an organization created, deleted,
--     moved or whose status changes, a partner whose status or deletion changes.
-- The runtime role has no privilege on the table; the SECURITY DEFINER functions below are the
-- only way in (as breeze_owner, the one role its policy admits).

CREATE TABLE permission_versions (
  user_id uuid PRIMARY KEY,   -- the nil UUID holds the global counter
  version bigint NOT NULL DEFAULT 0 CHECK (version >= 0)
);
ALTER TABLE permission_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE permission_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY permission_versions_owner ON permission_versions TO breeze_owner
  USING (true) WITH CHECK (true);
INSERT INTO permission_versions (user_id, version)
  VALUES ('00000000-0000-0000-0000-000000000000', 0);

CREATE FUNCTION breeze_bump_permission_version(p_user uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO permission_versions AS v (user_id, version) VALUES (p_user, 1)
  ON CONFLICT (user_id) DO UPDATE SET version = v.version + 1;
$$;
REVOKE ALL ON FUNCTION breeze_bump_permission_version(uuid) FROM PUBLIC;

-- (global, user) counters of a user, as one row; 0 for a user never bumped.
CREATE FUNCTION breeze_permission_versions(p_user uuid,
  OUT global_version bigint, OUT user_version bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT
    (SELECT version FROM permission_versions
      WHERE user_id = '00000000-0000-0000-0000-000000000000'),
    COALESCE((SELECT version FROM permission_versions WHERE user_id = p_user), 0);
$$;
REVOKE ALL ON FUNCTION breeze_permission_versions(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION breeze_permission_versions(uuid) TO breeze_app;

CREATE FUNCTION breeze_membership_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM breeze_bump_permission_version(OLD.user_id);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.user_id <> OLD.user_id) THEN
    PERFORM breeze_bump_permission_version(NEW.user_id);
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION breeze_membership_changed() FROM PUBLIC;

CREATE TRIGGER system_memberships_permissions AFTER INSERT OR UPDATE OR DELETE
  ON system_memberships FOR EACH ROW EXECUTE FUNCTION breeze_membership_changed();
CREATE TRIGGER partner_memberships_permissions AFTER INSERT OR UPDATE OR DELETE
  ON partner_memberships FOR EACH ROW EXECUTE FUNCTION breeze_membership_changed();
CREATE TRIGGER org_memberships_permissions AFTER INSERT OR UPDATE OR DELETE
  ON org_memberships FOR EACH ROW EXECUTE FUNCTION breeze_membership_changed();

CREATE FUNCTION breeze_permissions_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM breeze_bump_permission_version('00000000-0000-0000-0000-000000000000');
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION breeze_permissions_changed() FROM PUBLIC;

CREATE TRIGGER roles_permissions AFTER INSERT OR UPDATE OR DELETE ON roles
  FOR EACH STATEMENT EXECUTE FUNCTION breeze_permissions_changed();
CREATE TRIGGER organizations_created_permissions AFTER INSERT OR DELETE ON organizations
  FOR EACH STATEMENT EXECUTE FUNCTION breeze_permissions_changed();
CREATE TRIGGER organizations_changed_permissions
  AFTER UPDATE OF status, deleted_at, partner_id ON organizations
  FOR EACH STATEMENT EXECUTE FUNCTION breeze_permissions_changed();
CREATE TRIGGER partners_changed_permissions AFTER UPDATE OF status, deleted_at ON partners
  FOR EACH STATEMENT EXECUTE FUNCTION breeze_permissions_changed();
