-- Audit retention is a partner or platform decision (issue 15, finding 8).
--
-- An organization-scope context may not change `organizations.retention_days` at all (the
-- application refuses it first with 403 `retention_change_requires_partner`). The
-- operator's floor (BREEZE_AUDIT_RETENTION_FLOOR_DAYS) is configuration the database does
-- not know; it is enforced by the API on every change and, where it matters most, by the
-- retention job, which never prunes entries younger than the floor whatever is stored here.

CREATE FUNCTION breeze_org_retention_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.retention_days IS DISTINCT FROM OLD.retention_days
     AND breeze_scope() NOT IN ('partner', 'system') THEN
    RAISE EXCEPTION 'audit retention may be changed only in partner or system scope'
      USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER organizations_retention_guard BEFORE UPDATE OF retention_days ON organizations
  FOR EACH ROW EXECUTE FUNCTION breeze_org_retention_guard();
