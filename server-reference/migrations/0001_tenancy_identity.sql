-- Breeze reference server: tenancy, identity and the row-level security helpers (SPEC 1.2).
--
-- Runs as the owner role (breeze_owner). The runtime role (breeze_app) is NOSUPERUSER,
-- NOBYPASSRLS and owns nothing; it gets only the privileges granted at the end of each
-- migration. Every table with org_id or partner_id has RLS enabled AND forced.

-- ---------------------------------------------------------------------------------------
-- Access-context helpers. They read the transaction-local settings the server sets with
-- set_config(name, value, true) and FAIL CLOSED: unset, empty or malformed means no access.
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION breeze_scope() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE current_setting('breeze.scope', true)
           WHEN 'system' THEN 'system'
           WHEN 'partner' THEN 'partner'
           WHEN 'organization' THEN 'organization'
           ELSE 'none'
         END
$$;

-- A setting holding one lowercase UUID, or NULL when unset/malformed.
CREATE FUNCTION breeze_uuid_setting(name text) RETURNS uuid
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE v text := current_setting(name, true);
BEGIN
  IF v IS NULL OR v !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    RETURN NULL;
  END IF;
  RETURN v::uuid;
END $$;

-- A list setting: TRUE when it is exactly '*' (all), else FALSE.
CREATE FUNCTION breeze_list_is_all(name text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(current_setting(name, true) = '*', false)
$$;

-- A list setting as uuid[]: comma-joined lowercase UUIDs. Empty, unset, '*' or malformed
-- gives the empty array (callers test breeze_list_is_all first).
CREATE FUNCTION breeze_list_ids(name text) RETURNS uuid[]
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE v text := current_setting(name, true);
BEGIN
  IF v IS NULL OR v = '' OR v !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(,[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})*$' THEN
    RETURN '{}'::uuid[];
  END IF;
  RETURN string_to_array(v, ',')::uuid[];
END $$;

CREATE FUNCTION breeze_is_system() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT breeze_scope() = 'system'
$$;

CREATE FUNCTION breeze_user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN breeze_scope() = 'none' THEN NULL ELSE breeze_uuid_setting('breeze.user_id') END
$$;

CREATE FUNCTION breeze_current_partner_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN breeze_scope() = 'none' THEN NULL
              ELSE breeze_uuid_setting('breeze.current_partner_id') END
$$;

-- Organization access: '*' is honoured only in system scope.
CREATE FUNCTION breeze_has_org_access(org uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT org IS NOT NULL AND CASE breeze_scope()
    WHEN 'system' THEN breeze_list_is_all('breeze.accessible_org_ids')
                       OR org = ANY (breeze_list_ids('breeze.accessible_org_ids'))
    WHEN 'partner' THEN org = ANY (breeze_list_ids('breeze.accessible_org_ids'))
    WHEN 'organization' THEN org = ANY (breeze_list_ids('breeze.accessible_org_ids'))
                             AND org = breeze_uuid_setting('breeze.org_id')
    ELSE false
  END
$$;

-- Partner access: system ('*' or list) or the partner's own; organization scope has none.
CREATE FUNCTION breeze_has_partner_access(partner uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT partner IS NOT NULL AND CASE breeze_scope()
    WHEN 'system' THEN breeze_list_is_all('breeze.accessible_partner_ids')
                       OR partner = ANY (breeze_list_ids('breeze.accessible_partner_ids'))
    WHEN 'partner' THEN partner = ANY (breeze_list_ids('breeze.accessible_partner_ids'))
    ELSE false
  END
$$;

-- Site access (BEYOND: enforced here, not only in the application). '*' = every site of
-- the accessible organizations; a list = only those; anything else = none.
CREATE FUNCTION breeze_has_site_access(site uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT site IS NOT NULL AND breeze_scope() <> 'none' AND (
    breeze_list_is_all('breeze.allowed_site_ids')
    OR site = ANY (breeze_list_ids('breeze.allowed_site_ids')))
$$;

-- ---------------------------------------------------------------------------------------
-- Tenancy: Partner -> Organization -> Site -> Device Group -> Device
-- ---------------------------------------------------------------------------------------

CREATE TABLE partners (
  id            uuid PRIMARY KEY,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  max_devices   integer CHECK (max_devices IS NULL OR max_devices >= 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz
);

CREATE TABLE organizations (
  id             uuid PRIMARY KEY,
  partner_id     uuid NOT NULL REFERENCES partners(id),
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status         text NOT NULL DEFAULT 'active'
                 CHECK (status IN ('active', 'trial', 'suspended', 'offboarding')),
  retention_days integer NOT NULL DEFAULT 365 CHECK (retention_days BETWEEN 1 AND 36500),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz,
  UNIQUE (id, partner_id)
);
CREATE INDEX organizations_partner ON organizations (partner_id, id);

CREATE TABLE sites (
  id          uuid PRIMARY KEY,
  org_id      uuid NOT NULL REFERENCES organizations(id),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  timezone    text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 64),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, org_id)
);
CREATE INDEX sites_org ON sites (org_id, id);

CREATE TABLE device_groups (
  id          uuid PRIMARY KEY,
  org_id      uuid NOT NULL,
  site_id     uuid NOT NULL,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  -- a group belongs to a site of its own organization
  FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id),
  UNIQUE (id, org_id)
);
CREATE INDEX device_groups_org ON device_groups (org_id, id);

CREATE TABLE devices (
  id              uuid PRIMARY KEY,
  org_id          uuid NOT NULL,
  site_id         uuid NOT NULL,
  group_id        uuid,
  agent_id        text NOT NULL UNIQUE CHECK (agent_id ~ '^[0-9a-f]{64}$'),
  hostname        text NOT NULL CHECK (length(hostname) BETWEEN 1 AND 255),
  display_name    text CHECK (display_name IS NULL OR length(display_name) BETWEEN 1 AND 255),
  os_type         text NOT NULL CHECK (os_type IN ('windows', 'macos', 'linux')),
  os_version      text NOT NULL DEFAULT '' CHECK (length(os_version) <= 255),
  architecture    text NOT NULL DEFAULT '' CHECK (length(architecture) <= 64),
  agent_version   text NOT NULL DEFAULT '' CHECK (length(agent_version) <= 64),
  status          text NOT NULL DEFAULT 'offline'
                  CHECK (status IN ('online', 'offline', 'quarantined', 'decommissioned')),
  possible_replacement_of uuid,
  last_seen_at    timestamptz,
  enrolled_at     timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id),
  FOREIGN KEY (group_id, org_id) REFERENCES device_groups (id, org_id)
);
CREATE INDEX devices_org ON devices (org_id, id);
CREATE INDEX devices_site ON devices (site_id);

-- ---------------------------------------------------------------------------------------
-- Identity
-- ---------------------------------------------------------------------------------------

CREATE TABLE roles (
  id           uuid PRIMARY KEY,
  -- NULL for the seeded and system roles every partner sees; else a partner's custom role
  partner_id   uuid REFERENCES partners(id),
  scope        text NOT NULL CHECK (scope IN ('system', 'partner', 'organization')),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description  text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  permissions  text[] NOT NULL DEFAULT '{}',
  requires_mfa boolean NOT NULL DEFAULT false,
  seeded       boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (seeded = (partner_id IS NULL))
);
CREATE UNIQUE INDEX roles_name ON roles (coalesce(partner_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(name));

CREATE TABLE users (
  id                  uuid PRIMARY KEY,
  email               text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email = lower(email)),
  name                text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
  -- the home tenant: a partner user has partner_id only, an organization user both
  partner_id          uuid REFERENCES partners(id),
  org_id              uuid REFERENCES organizations(id),
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  password_hash       text NOT NULL,
  password_changed_at timestamptz NOT NULL DEFAULT now(),
  auth_epoch          integer NOT NULL DEFAULT 0,
  mfa_epoch           integer NOT NULL DEFAULT 0,
  mfa_enabled         boolean NOT NULL DEFAULT false,
  mfa_secret          text,           -- mfa:v1 envelope
  mfa_pending_secret  text,           -- mfa:v1 envelope, until the first code confirms it
  mfa_last_step       bigint,         -- last accepted TOTP step (replay refused)
  failed_logins       integer NOT NULL DEFAULT 0,
  locked_until        timestamptz,
  last_login_at       timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (org_id IS NULL OR partner_id IS NOT NULL)
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_partner ON users (partner_id);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE system_memberships (
  user_id    uuid PRIMARY KEY REFERENCES users(id),
  role_id    uuid NOT NULL REFERENCES roles(id),
  active     boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE partner_memberships (
  user_id     uuid PRIMARY KEY REFERENCES users(id),
  partner_id  uuid NOT NULL REFERENCES partners(id),
  role_id     uuid NOT NULL REFERENCES roles(id),
  org_access  text NOT NULL CHECK (org_access IN ('all', 'selected', 'none')),
  org_ids     uuid[] NOT NULL DEFAULT '{}',
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (org_access = 'selected' OR cardinality(org_ids) = 0)
);
CREATE INDEX partner_memberships_partner ON partner_memberships (partner_id);

CREATE TABLE org_memberships (
  user_id     uuid PRIMARY KEY REFERENCES users(id),
  org_id      uuid NOT NULL REFERENCES organizations(id),
  role_id     uuid NOT NULL REFERENCES roles(id),
  -- NULL = every site of the organization; an empty array = no site
  site_ids    uuid[],
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX org_memberships_org ON org_memberships (org_id);

-- Refresh-token families (SPEC 2.3). A family is a login session: the access token's `sid`.
CREATE TABLE refresh_families (
  id             uuid PRIMARY KEY,
  user_id        uuid NOT NULL REFERENCES users(id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,            -- absolute lifetime (30 days)
  revoked_at     timestamptz,
  revoked_reason text CHECK (revoked_reason IS NULL OR length(revoked_reason) <= 64),
  ip             inet,
  user_agent     text CHECK (user_agent IS NULL OR length(user_agent) <= 512)
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- One row per refresh token issued; used_at is set atomically when it is burned.
CREATE TABLE refresh_tokens (
  jti         uuid PRIMARY KEY,
  family_id   uuid NOT NULL REFERENCES refresh_families(id),
  user_id     uuid NOT NULL REFERENCES users(id),
  issued_at   timestamptz NOT NULL DEFAULT now(),
  used_at     timestamptz,
  replaced_by uuid
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE mfa_recovery_codes (
  user_id    uuid NOT NULL REFERENCES users(id),
  code_hash  text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  used_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE password_resets (
  id          uuid PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users(id),
  token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Outbound notifications (the default notifier). Bodies are AES-256-GCM envelopes (v3,
-- AAD notification_outbox.body): a reset link is a secret at rest.
CREATE TABLE notification_outbox (
  id          uuid PRIMARY KEY,
  user_id     uuid REFERENCES users(id),
  kind        text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
  recipient   text NOT NULL CHECK (length(recipient) <= 254),
  body        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz
);

-- ---------------------------------------------------------------------------------------
-- Credentials (SPEC 3): only hashes are stored.
-- ---------------------------------------------------------------------------------------

CREATE TABLE api_keys (
  id                  uuid PRIMARY KEY,
  org_id              uuid NOT NULL REFERENCES organizations(id),
  name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  key_prefix          text NOT NULL CHECK (length(key_prefix) = 8),
  key_hash            text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  scopes              text[] NOT NULL,
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked', 'expired')),
  expires_at          timestamptz,
  rate_limit_per_hour integer NOT NULL DEFAULT 1000 CHECK (rate_limit_per_hour BETWEEN 1 AND 1000000),
  last_used_at        timestamptz,
  usage_count         bigint NOT NULL DEFAULT 0,
  created_by          uuid REFERENCES users(id),
  created_at          timestamptz NOT NULL DEFAULT now(),
  revoked_at          timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id, id);

CREATE TABLE enrollment_keys (
  id           uuid PRIMARY KEY,
  org_id       uuid NOT NULL,
  site_id      uuid NOT NULL,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  key_hash     text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  secret_hash  text CHECK (secret_hash IS NULL OR secret_hash ~ '^[0-9a-f]{64}$'),
  max_usage    integer NOT NULL CHECK (max_usage BETWEEN 1 AND 100000),
  usage_count  integer NOT NULL DEFAULT 0 CHECK (usage_count >= 0 AND usage_count <= max_usage),
  expires_at   timestamptz NOT NULL,
  created_by   uuid REFERENCES users(id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (site_id, org_id) REFERENCES sites (id, org_id)
);
CREATE INDEX enrollment_keys_org ON enrollment_keys (org_id, id);

-- ---------------------------------------------------------------------------------------
-- Row-level security: enabled and FORCED everywhere, one policy per command.
-- ---------------------------------------------------------------------------------------

ALTER TABLE partners ENABLE ROW LEVEL SECURITY;
ALTER TABLE partners FORCE ROW LEVEL SECURITY;
CREATE POLICY partners_select ON partners FOR SELECT
  USING (breeze_has_partner_access(id) OR id = breeze_current_partner_id());
CREATE POLICY partners_insert ON partners FOR INSERT WITH CHECK (breeze_is_system());
CREATE POLICY partners_update ON partners FOR UPDATE
  USING (breeze_has_partner_access(id)) WITH CHECK (breeze_has_partner_access(id));
CREATE POLICY partners_delete ON partners FOR DELETE USING (breeze_is_system());

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_select ON organizations FOR SELECT
  USING (breeze_has_org_access(id));
-- creating an organization is a partner-wide write (the application also requires
-- org_access = all); the new id cannot be in the request's list yet
CREATE POLICY organizations_insert ON organizations FOR INSERT
  WITH CHECK (breeze_has_partner_access(partner_id));
CREATE POLICY organizations_update ON organizations FOR UPDATE
  USING (breeze_has_org_access(id)) WITH CHECK (breeze_has_org_access(id));
CREATE POLICY organizations_delete ON organizations FOR DELETE
  USING (breeze_has_org_access(id) AND breeze_has_partner_access(partner_id));

ALTER TABLE sites ENABLE ROW LEVEL SECURITY;
ALTER TABLE sites FORCE ROW LEVEL SECURITY;
CREATE POLICY sites_select ON sites FOR SELECT
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(id));
-- a new site cannot be on a site list yet: creating needs all-sites access
CREATE POLICY sites_insert ON sites FOR INSERT
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_list_is_all('breeze.allowed_site_ids'));
CREATE POLICY sites_update ON sites FOR UPDATE
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(id));
CREATE POLICY sites_delete ON sites FOR DELETE
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(id));

ALTER TABLE device_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY device_groups_all ON device_groups FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id));

ALTER TABLE devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE devices FORCE ROW LEVEL SECURITY;
CREATE POLICY devices_all ON devices FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id));

ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
CREATE POLICY roles_select ON roles FOR SELECT
  USING (breeze_scope() <> 'none' AND (partner_id IS NULL
         OR breeze_has_partner_access(partner_id) OR partner_id = breeze_current_partner_id()));
CREATE POLICY roles_insert ON roles FOR INSERT
  WITH CHECK (breeze_has_partner_access(partner_id) OR (partner_id IS NULL AND breeze_is_system()));
CREATE POLICY roles_update ON roles FOR UPDATE
  USING (breeze_has_partner_access(partner_id) OR (partner_id IS NULL AND breeze_is_system()))
  WITH CHECK (breeze_has_partner_access(partner_id) OR (partner_id IS NULL AND breeze_is_system()));
CREATE POLICY roles_delete ON roles FOR DELETE
  USING (breeze_has_partner_access(partner_id));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
-- a user sees themself; partner scope sees its partner's users; organization scope the
-- users whose home is an accessible organization
CREATE POLICY users_select ON users FOR SELECT
  USING (id = breeze_user_id() OR breeze_is_system()
         OR (org_id IS NULL AND breeze_has_partner_access(partner_id))
         OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)));
CREATE POLICY users_insert ON users FOR INSERT
  WITH CHECK (breeze_is_system()
         OR (org_id IS NULL AND breeze_has_partner_access(partner_id))
         OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)));
CREATE POLICY users_update ON users FOR UPDATE
  USING (id = breeze_user_id() OR breeze_is_system()
         OR (org_id IS NULL AND breeze_has_partner_access(partner_id))
         OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)))
  WITH CHECK (id = breeze_user_id() OR breeze_is_system()
         OR (org_id IS NULL AND breeze_has_partner_access(partner_id))
         OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)));
CREATE POLICY users_delete ON users FOR DELETE USING (breeze_is_system());

ALTER TABLE system_memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE system_memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY system_memberships_all ON system_memberships FOR ALL
  USING (breeze_is_system() OR user_id = breeze_user_id())
  WITH CHECK (breeze_is_system());

ALTER TABLE partner_memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE partner_memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY partner_memberships_select ON partner_memberships FOR SELECT
  USING (breeze_has_partner_access(partner_id) OR user_id = breeze_user_id());
CREATE POLICY partner_memberships_write ON partner_memberships FOR INSERT
  WITH CHECK (breeze_has_partner_access(partner_id));
CREATE POLICY partner_memberships_update ON partner_memberships FOR UPDATE
  USING (breeze_has_partner_access(partner_id)) WITH CHECK (breeze_has_partner_access(partner_id));
CREATE POLICY partner_memberships_delete ON partner_memberships FOR DELETE
  USING (breeze_has_partner_access(partner_id));

ALTER TABLE org_memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY org_memberships_select ON org_memberships FOR SELECT
  USING (breeze_has_org_access(org_id) OR user_id = breeze_user_id());
CREATE POLICY org_memberships_insert ON org_memberships FOR INSERT
  WITH CHECK (breeze_has_org_access(org_id));
CREATE POLICY org_memberships_update ON org_memberships FOR UPDATE
  USING (breeze_has_org_access(org_id)) WITH CHECK (breeze_has_org_access(org_id));
CREATE POLICY org_memberships_delete ON org_memberships FOR DELETE
  USING (breeze_has_org_access(org_id));

-- Auth-internal tables are keyed by user: the user themself, or system scope (auth flows).
ALTER TABLE refresh_families ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_families FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_families_all ON refresh_families FOR ALL
  USING (breeze_is_system() OR user_id = breeze_user_id())
  WITH CHECK (breeze_is_system() OR user_id = breeze_user_id());

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_tokens_all ON refresh_tokens FOR ALL
  USING (breeze_is_system() OR user_id = breeze_user_id())
  WITH CHECK (breeze_is_system() OR user_id = breeze_user_id());

ALTER TABLE mfa_recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY mfa_recovery_codes_all ON mfa_recovery_codes FOR ALL
  USING (breeze_is_system() OR user_id = breeze_user_id())
  WITH CHECK (breeze_is_system() OR user_id = breeze_user_id());

ALTER TABLE password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE password_resets FORCE ROW LEVEL SECURITY;
CREATE POLICY password_resets_all ON password_resets FOR ALL
  USING (breeze_is_system()) WITH CHECK (breeze_is_system());

ALTER TABLE notification_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY notification_outbox_all ON notification_outbox FOR ALL
  USING (breeze_is_system()) WITH CHECK (breeze_is_system());

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_all ON api_keys FOR ALL
  USING (breeze_has_org_access(org_id)) WITH CHECK (breeze_has_org_access(org_id));

ALTER TABLE enrollment_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollment_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY enrollment_keys_all ON enrollment_keys FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id));

-- ---------------------------------------------------------------------------------------
-- Runtime role privileges: data only, no DDL, no ownership.
-- ---------------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  partners, organizations, sites, device_groups, devices, roles, users, system_memberships,
  partner_memberships, org_memberships, refresh_families, refresh_tokens, mfa_recovery_codes,
  password_resets, notification_outbox, api_keys, enrollment_keys
TO breeze_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO breeze_app;
