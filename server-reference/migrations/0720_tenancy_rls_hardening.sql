-- Security review, issue 15 (findings 11, 12, 13, 14 and the cache side of 6).
--
-- Replaces helper functions with CREATE OR REPLACE and policies with DROP POLICY + CREATE
-- POLICY; 0001 and 0500 stay as databases in the field ran them.

-- ---------------------------------------------------------------------------------------
-- 11. A narrowed system context (AccessContext::system_within: the batched heartbeats) is
-- not "system". breeze_is_system() now means the full platform context only: scope system
-- AND every list '*'. A narrowed one keeps its organization/site access (devices,
-- heartbeats, commands) and loses every policy that tests "system": users, memberships,
-- refresh tokens and families, MFA codes and challenges, password resets, the outbox,
-- partners and the system audit chain.
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION breeze_is_system() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT breeze_scope() = 'system'
     AND breeze_list_is_all('breeze.accessible_org_ids')
     AND breeze_list_is_all('breeze.accessible_partner_ids')
     AND breeze_list_is_all('breeze.allowed_site_ids')
$$;

-- A tenant (partner or organization) context: the only scopes the tenant branches of the
-- identity policies serve (a narrowed system context reaches no user through them).
CREATE FUNCTION breeze_is_tenant_scope() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT breeze_scope() IN ('partner', 'organization')
$$;

-- ---------------------------------------------------------------------------------------
-- 13. The partner-wide write right (SPEC 1.1: partner scope with org_access = all, or the
-- unnarrowed system context) as PostgreSQL sees it: the setting breeze.partner_wide_write
-- ('true' or empty) carried by AccessContext::session_settings. Fails closed: unset,
-- empty or anything but 'true' is no right; organization scope never has it; system
-- scope has it exactly when breeze_is_system().
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION breeze_can_write_partner_wide() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE breeze_scope()
    WHEN 'system' THEN breeze_is_system()
    WHEN 'partner' THEN coalesce(current_setting('breeze.partner_wide_write', true) = 'true', false)
    ELSE false
  END
$$;

-- partners: only the platform creates/deletes (unchanged); updates need the write right
DROP POLICY partners_update ON partners;
CREATE POLICY partners_update ON partners FOR UPDATE
  USING (breeze_has_partner_access(id) AND breeze_can_write_partner_wide())
  WITH CHECK (breeze_has_partner_access(id) AND breeze_can_write_partner_wide());

-- organizations: creating and deleting are partner-wide writes
DROP POLICY organizations_insert ON organizations;
CREATE POLICY organizations_insert ON organizations FOR INSERT
  WITH CHECK (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide());
DROP POLICY organizations_delete ON organizations;
CREATE POLICY organizations_delete ON organizations FOR DELETE
  USING (breeze_has_org_access(id) AND breeze_has_partner_access(partner_id)
         AND breeze_can_write_partner_wide());

-- custom roles of a partner
DROP POLICY roles_insert ON roles;
CREATE POLICY roles_insert ON roles FOR INSERT
  WITH CHECK ((breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide())
              OR (partner_id IS NULL AND breeze_is_system()));
DROP POLICY roles_update ON roles;
CREATE POLICY roles_update ON roles FOR UPDATE
  USING ((breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide())
         OR (partner_id IS NULL AND breeze_is_system()))
  WITH CHECK ((breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide())
              OR (partner_id IS NULL AND breeze_is_system()));
DROP POLICY roles_delete ON roles;
CREATE POLICY roles_delete ON roles FOR DELETE
  USING (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide());

-- partner memberships
DROP POLICY partner_memberships_write ON partner_memberships;
CREATE POLICY partner_memberships_write ON partner_memberships FOR INSERT
  WITH CHECK (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide());
DROP POLICY partner_memberships_update ON partner_memberships;
CREATE POLICY partner_memberships_update ON partner_memberships FOR UPDATE
  USING (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide())
  WITH CHECK (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide());
DROP POLICY partner_memberships_delete ON partner_memberships;
CREATE POLICY partner_memberships_delete ON partner_memberships FOR DELETE
  USING (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide());

-- users: the tenant branches serve tenant scopes only (11); writing a partner user (home
-- partner, no organization) is partner-wide (13); a user still reads and updates themself
DROP POLICY users_select ON users;
CREATE POLICY users_select ON users FOR SELECT
  USING (id = breeze_user_id() OR breeze_is_system()
         OR (breeze_is_tenant_scope() AND org_id IS NULL AND breeze_has_partner_access(partner_id))
         OR (breeze_is_tenant_scope() AND org_id IS NOT NULL AND breeze_has_org_access(org_id)));
DROP POLICY users_insert ON users;
CREATE POLICY users_insert ON users FOR INSERT
  WITH CHECK (breeze_is_system()
         OR (breeze_is_tenant_scope() AND org_id IS NULL AND breeze_has_partner_access(partner_id)
             AND breeze_can_write_partner_wide())
         OR (breeze_is_tenant_scope() AND org_id IS NOT NULL AND breeze_has_org_access(org_id)));
DROP POLICY users_update ON users;
CREATE POLICY users_update ON users FOR UPDATE
  USING (id = breeze_user_id() OR breeze_is_system()
         OR (breeze_is_tenant_scope() AND org_id IS NULL AND breeze_has_partner_access(partner_id)
             AND breeze_can_write_partner_wide())
         OR (breeze_is_tenant_scope() AND org_id IS NOT NULL AND breeze_has_org_access(org_id)))
  WITH CHECK (id = breeze_user_id() OR breeze_is_system()
         OR (breeze_is_tenant_scope() AND org_id IS NULL AND breeze_has_partner_access(partner_id)
             AND breeze_can_write_partner_wide())
         OR (breeze_is_tenant_scope() AND org_id IS NOT NULL AND breeze_has_org_access(org_id)));

-- ---------------------------------------------------------------------------------------
-- 12. Whether a user holds a system membership must be visible to the tenant contexts
-- that can see the user, or the "platform admins are reachable from system scope only"
-- guard reads nothing and always says no. Reading: the platform, the user themself, or
-- a context that sees the user's row (the users policy decides, so the reach is exactly
-- the users' one). Writing stays with the platform (a user can no longer delete their own
-- system membership row, which the old FOR ALL policy let them do).
-- ---------------------------------------------------------------------------------------

DROP POLICY system_memberships_all ON system_memberships;
CREATE POLICY system_memberships_select ON system_memberships FOR SELECT
  USING (breeze_is_system() OR user_id = breeze_user_id()
         OR (breeze_is_tenant_scope()
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = system_memberships.user_id)));
CREATE POLICY system_memberships_insert ON system_memberships FOR INSERT
  WITH CHECK (breeze_is_system());
CREATE POLICY system_memberships_update ON system_memberships FOR UPDATE
  USING (breeze_is_system()) WITH CHECK (breeze_is_system());
CREATE POLICY system_memberships_delete ON system_memberships FOR DELETE
  USING (breeze_is_system());

-- ---------------------------------------------------------------------------------------
-- 14. Device credentials and source-IP history follow the site allow-list of their
-- device. No site_id column (it would have to be kept in step with devices.site_id on
-- every move): the policy asks the device row, which is itself under RLS, so the two
-- cannot drift. All-sites contexts skip the lookup.
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION breeze_has_device_site_access(device uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT device IS NOT NULL AND breeze_scope() <> 'none' AND (
    breeze_list_is_all('breeze.allowed_site_ids')
    OR EXISTS (SELECT 1 FROM devices d WHERE d.id = device AND breeze_has_site_access(d.site_id)))
$$;

DROP POLICY device_credentials_all ON device_credentials;
CREATE POLICY device_credentials_all ON device_credentials FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_device_site_access(device_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_device_site_access(device_id));

DROP POLICY agent_ip_history_all ON agent_ip_history;
CREATE POLICY agent_ip_history_all ON agent_ip_history FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_device_site_access(device_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_device_site_access(device_id));

-- 6. A partner's status or deletion decides whether its organizations are serviceable; the
-- agent authentication caches and sockets learn of it through the partner notification of
-- 0710 (breeze_notify_partner, on breeze_org_events).

GRANT EXECUTE ON FUNCTION breeze_is_tenant_scope(), breeze_can_write_partner_wide(),
  breeze_has_device_site_access(uuid) TO breeze_app;
