-- Issue 23: row-level security evaluated once per statement, not once per row.
--
-- breeze_has_org_access(org) and breeze_has_site_access(site) are inlined into every
-- policy, and each call parses the access lists out of the transaction's settings again
-- (breeze_list_ids: a PL/pgSQL call with a regular expression over the whole list). A
-- statement touching N rows paid that 2N to 4N times: most of PostgreSQL's time in a
-- batch of heartbeats. The lists do not change during a statement, so the policies below
-- compute them once: a scalar subquery `(SELECT f())` without outer references becomes an
-- InitPlan, run once per execution (never at plan time, so a cached plan still reads the
-- current transaction's settings). Per row only `= ANY (array)` remains. The `::uuid[]`
-- casts keep `= ANY ((SELECT ...))` the array form, not the subquery form.
--
-- Same access, same fail-closed defaults: for every setting combination
--   breeze_has_org_access(org)  =  org IS NOT NULL
--                                  AND (breeze_org_access_all() OR org = ANY (breeze_org_access_ids()))
--   breeze_has_site_access(site) = site IS NOT NULL
--                                  AND (breeze_site_access_all() OR site = ANY (breeze_site_access_ids()))
-- and breeze_has_device_site_access(device) likewise with the EXISTS written into the
-- policy (the rls_coverage tests run the malformed, cross-organization, site allow-list and
-- narrowed-system cases against the policies below). The old functions stay for the
-- policies that are not on a hot path.

-- '*' for organizations is honoured only in system scope.
CREATE FUNCTION breeze_org_access_all() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT breeze_scope() = 'system' AND breeze_list_is_all('breeze.accessible_org_ids')
$$;

-- The organizations the context reaches by list: system and partner scope, the list;
-- organization scope, its own organization when the list holds it; otherwise none.
CREATE FUNCTION breeze_org_access_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE breeze_scope()
    WHEN 'system' THEN breeze_list_ids('breeze.accessible_org_ids')
    WHEN 'partner' THEN breeze_list_ids('breeze.accessible_org_ids')
    WHEN 'organization' THEN
      CASE WHEN breeze_uuid_setting('breeze.org_id') = ANY (breeze_list_ids('breeze.accessible_org_ids'))
           THEN ARRAY[breeze_uuid_setting('breeze.org_id')]
           ELSE '{}'::uuid[] END
    ELSE '{}'::uuid[]
  END
$$;

CREATE FUNCTION breeze_site_access_all() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT breeze_scope() <> 'none' AND breeze_list_is_all('breeze.allowed_site_ids')
$$;

CREATE FUNCTION breeze_site_access_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN breeze_scope() = 'none' THEN '{}'::uuid[]
              ELSE breeze_list_ids('breeze.allowed_site_ids') END
$$;

GRANT EXECUTE ON FUNCTION breeze_org_access_all(), breeze_org_access_ids(),
  breeze_site_access_all(), breeze_site_access_ids() TO breeze_app;

-- The tables whose policy is "the organization and the site are reachable".
DO $$
DECLARE
  t record;
  rule constant text :=
    'org_id IS NOT NULL AND ((SELECT breeze_org_access_all()) OR org_id = ANY ((SELECT breeze_org_access_ids())::uuid[]))'
    ' AND site_id IS NOT NULL AND ((SELECT breeze_site_access_all()) OR site_id = ANY ((SELECT breeze_site_access_ids())::uuid[]))';
BEGIN
  FOR t IN SELECT * FROM (VALUES
      ('device_groups', 'device_groups_all'),
      ('devices', 'devices_all'),
      ('enrollment_keys', 'enrollment_keys_all'),
      ('device_heartbeats', 'device_heartbeats_all'),
      ('device_commands', 'device_commands_all'),
      ('remote_sessions', 'remote_sessions_all'),
      ('remote_session_tickets', 'remote_session_tickets_all'),
      ('remote_session_transcripts', 'remote_session_transcripts_all')) AS v(tbl, pol)
  LOOP
    EXECUTE format('DROP POLICY %I ON %I', t.pol, t.tbl);
    EXECUTE format('CREATE POLICY %I ON %I FOR ALL USING (%s) WITH CHECK (%s)',
                   t.pol, t.tbl, rule, rule);
  END LOOP;
END $$;

-- The audit log's read policy (the audit query pages of a large chain).
DROP POLICY audit_log_select ON audit_log;
CREATE POLICY audit_log_select ON audit_log FOR SELECT
  USING ((org_id IS NOT NULL
          AND ((SELECT breeze_org_access_all()) OR org_id = ANY ((SELECT breeze_org_access_ids())::uuid[])))
         OR (org_id IS NULL AND (SELECT breeze_is_system())));

-- Device credentials and source-address history: the organization as above, and the
-- device's site reachable. breeze_has_device_site_access(device) (0720) holds an EXISTS, so
-- PostgreSQL could not inline it and planned its body again for every row it checked
-- (1.3 ms for the one-row `last_ip` update of an agent's first heartbeat). The same rule,
-- written into the policy: the EXISTS is planned once with the statement, and skipped
-- when every site is reachable.
DO $$
DECLARE
  t record;
  rule text;
BEGIN
  FOR t IN SELECT * FROM (VALUES
      ('device_credentials', 'device_credentials_all'),
      ('agent_ip_history', 'agent_ip_history_all')) AS v(tbl, pol)
  LOOP
    rule := format(
      'org_id IS NOT NULL AND ((SELECT breeze_org_access_all()) OR org_id = ANY ((SELECT breeze_org_access_ids())::uuid[]))'
      ' AND device_id IS NOT NULL AND ((SELECT breeze_site_access_all())'
      ' OR EXISTS (SELECT 1 FROM devices d WHERE d.id = %I.device_id'
      ' AND d.site_id = ANY ((SELECT breeze_site_access_ids())::uuid[])))', t.tbl);
    EXECUTE format('DROP POLICY %I ON %I', t.pol, t.tbl);
    EXECUTE format('CREATE POLICY %I ON %I FOR ALL USING (%s) WITH CHECK (%s)',
                   t.pol, t.tbl, rule, rule);
  END LOOP;
END $$;
