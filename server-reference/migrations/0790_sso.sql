-- SSO with OpenID Connect (SPEC 16, issue 21).
--
-- sso_providers: one OpenID provider configured for a partner (org_id NULL: every user whose
-- home is that partner or one of its organizations) or for one organization. The client
-- secret is an enc:v3 envelope bound to sso_providers.client_secret (covered by
-- `breeze-server secrets rekey`). enforce_sso turns password login off for the users it
-- covers (platform admins keep theirs: the break-glass login).
CREATE TABLE sso_providers (
  id               uuid PRIMARY KEY,
  partner_id       uuid NOT NULL REFERENCES partners(id),
  org_id           uuid REFERENCES organizations(id),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  issuer           text NOT NULL CHECK (length(issuer) BETWEEN 8 AND 2048),
  client_id        text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 255),
  client_secret    text NOT NULL CHECK (client_secret LIKE 'enc:%'),
  scopes           text NOT NULL DEFAULT 'openid email profile' CHECK (length(scopes) <= 512),
  -- just-in-time provisioning: a verified e-mail with no user creates one with this
  -- membership ({"kind":"partner"|"organization", "roleId", ...}, checked against the
  -- escalation guards of user creation when it is configured); NULL: no provisioning
  jit_membership   jsonb CHECK (jit_membership IS NULL OR jsonb_typeof(jit_membership) = 'object'),
  enforce_sso      boolean NOT NULL DEFAULT false,
  enabled          boolean NOT NULL DEFAULT true,
  created_by       uuid REFERENCES users(id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
-- one provider per tenant level: the partner's (org_id NULL) and one per organization
CREATE UNIQUE INDEX sso_providers_partner_level ON sso_providers (partner_id) WHERE org_id IS NULL;
CREATE UNIQUE INDEX sso_providers_org_level ON sso_providers (org_id) WHERE org_id IS NOT NULL;

ALTER TABLE sso_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_providers FORCE ROW LEVEL SECURITY;
-- partner-level rows: the partner's scope (writes need the partner-wide right);
-- organization-level rows: that organization's reach (and its partner's)
CREATE POLICY sso_providers_select ON sso_providers FOR SELECT
  USING ((org_id IS NULL AND breeze_has_partner_access(partner_id))
         OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)));
CREATE POLICY sso_providers_insert ON sso_providers FOR INSERT
  WITH CHECK ((org_id IS NULL AND breeze_has_partner_access(partner_id)
               AND breeze_can_write_partner_wide())
              OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)));
CREATE POLICY sso_providers_update ON sso_providers FOR UPDATE
  USING ((org_id IS NULL AND breeze_has_partner_access(partner_id)
          AND breeze_can_write_partner_wide())
         OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)))
  WITH CHECK ((org_id IS NULL AND breeze_has_partner_access(partner_id)
               AND breeze_can_write_partner_wide())
              OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)));
CREATE POLICY sso_providers_delete ON sso_providers FOR DELETE
  USING ((org_id IS NULL AND breeze_has_partner_access(partner_id)
          AND breeze_can_write_partner_wide())
         OR (org_id IS NOT NULL AND breeze_has_org_access(org_id)));

-- A login in flight (10 minutes): the SHA-256 of its state, the SHA-256 of its nonce, the
-- PKCE verifier sealed (enc:v3, sso_login_attempts.code_verifier), consumed once.
CREATE TABLE sso_login_attempts (
  id             uuid PRIMARY KEY,
  provider_id    uuid NOT NULL REFERENCES sso_providers(id) ON DELETE CASCADE,
  state_hash     text NOT NULL UNIQUE CHECK (state_hash ~ '^[0-9a-f]{64}$'),
  nonce_hash     text NOT NULL CHECK (nonce_hash ~ '^[0-9a-f]{64}$'),
  code_verifier  text NOT NULL CHECK (code_verifier LIKE 'enc:%'),
  expires_at     timestamptz NOT NULL,
  consumed_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sso_login_attempts_expiry ON sso_login_attempts (expires_at);

-- The provider's stable subject linked to a Breeze user (first login: by verified e-mail
-- or just-in-time creation; later logins: by subject).
CREATE TABLE sso_identities (
  provider_id    uuid NOT NULL REFERENCES sso_providers(id) ON DELETE CASCADE,
  subject        text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  user_id        uuid NOT NULL REFERENCES users(id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz,
  PRIMARY KEY (provider_id, subject),
  UNIQUE (provider_id, user_id)
);

-- Auth-internal: only the system scope of the login flow sees attempts and identities.
ALTER TABLE sso_login_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_login_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_login_attempts_all ON sso_login_attempts FOR ALL
  USING (breeze_is_system()) WITH CHECK (breeze_is_system());
ALTER TABLE sso_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_identities FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_identities_all ON sso_identities FOR ALL
  USING (breeze_is_system()) WITH CHECK (breeze_is_system());

REVOKE ALL ON sso_providers, sso_login_attempts, sso_identities FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_providers, sso_login_attempts, sso_identities TO breeze_app;
