-- The MCP endpoint and human approvals (SPEC 14, issue 19): MCP sessions (shared by every
-- replica, with a TTL), durable approval requests carrying the digest of the exact
-- arguments, and the AI tool policy overrides (partner, organization, site, device group).
-- Every table is under forced row-level security.

-- A session id is a bearer value presented with the API key: only its SHA-256 is stored.
CREATE TABLE mcp_sessions (
  id_hash           text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  org_id            uuid NOT NULL REFERENCES organizations(id),
  api_key_id        uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
  protocol_version  text NOT NULL CHECK (protocol_version ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
  client_name       text CHECK (client_name IS NULL OR length(client_name) <= 200),
  created_at        timestamptz NOT NULL DEFAULT now(),
  last_used_at      timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL
);
CREATE INDEX mcp_sessions_key ON mcp_sessions (api_key_id, expires_at);

CREATE TABLE approval_requests (
  id                uuid PRIMARY KEY,
  org_id            uuid NOT NULL REFERENCES organizations(id),
  partner_id        uuid NOT NULL REFERENCES partners(id),
  site_id           uuid,
  device_group_id   uuid,
  device_id         uuid,
  tool              text NOT NULL CHECK (tool ~ '^[a-z][a-z0-9_]{0,63}$'),
  level             text NOT NULL CHECK (level IN ('low', 'medium', 'high', 'critical')),
  -- the exact arguments the approver reads, and their digest (breeze_authz::approval)
  arguments         jsonb NOT NULL CHECK (jsonb_typeof(arguments) = 'object'),
  argument_digest   text NOT NULL CHECK (argument_digest ~ '^[0-9a-f]{64}$'),
  api_key_id        uuid NOT NULL REFERENCES api_keys(id),
  requested_by      uuid NOT NULL REFERENCES users(id),
  requested_at      timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL,
  status            text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'denied', 'executed', 'expired')),
  decided_by        uuid REFERENCES users(id),
  decided_at        timestamptz,
  reason            text CHECK (reason IS NULL OR length(reason) <= 1000),
  executed_at       timestamptz,
  result_ref        text CHECK (result_ref IS NULL OR length(result_ref) <= 100),
  CHECK ((status = 'pending') = (decided_at IS NULL) OR status = 'expired'),
  CHECK ((status = 'executed') = (executed_at IS NOT NULL))
);
CREATE INDEX approval_requests_org ON approval_requests (org_id, status, requested_at DESC, id);

-- One override per (scope, tool). A partner-wide row has no organization.
CREATE TABLE ai_tool_policies (
  id                uuid PRIMARY KEY,
  partner_id        uuid NOT NULL REFERENCES partners(id),
  org_id            uuid REFERENCES organizations(id),
  scope_kind        text NOT NULL CHECK (scope_kind IN ('partner', 'organization', 'site', 'device_group')),
  scope_id          uuid NOT NULL,
  tool              text NOT NULL CHECK (tool ~ '^[a-z][a-z0-9_]{0,63}$'),
  level             text NOT NULL CHECK (level IN ('low', 'medium', 'high', 'critical')),
  created_by        uuid REFERENCES users(id),
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((scope_kind = 'partner') = (org_id IS NULL)),
  CHECK (scope_kind <> 'partner' OR scope_id = partner_id),
  CHECK (scope_kind <> 'organization' OR scope_id = org_id),
  UNIQUE (scope_kind, scope_id, tool)
);
CREATE INDEX ai_tool_policies_org ON ai_tool_policies (org_id, tool);
CREATE INDEX ai_tool_policies_partner ON ai_tool_policies (partner_id, tool) WHERE org_id IS NULL;

ALTER TABLE mcp_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE mcp_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY mcp_sessions_all ON mcp_sessions FOR ALL
  USING (breeze_has_org_access(org_id)) WITH CHECK (breeze_has_org_access(org_id));

ALTER TABLE approval_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE approval_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY approval_requests_all ON approval_requests FOR ALL
  USING (breeze_has_org_access(org_id)
         AND (site_id IS NULL OR breeze_has_site_access(site_id)))
  WITH CHECK (breeze_has_org_access(org_id)
              AND (site_id IS NULL OR breeze_has_site_access(site_id)));

-- Reading: an organization's own rows, and the partner-wide rows of the context's partner
-- (an API key's calls are decided under its partner's overrides). Writing: organization
-- rows by those who reach the organization, partner rows by those who reach the partner.
ALTER TABLE ai_tool_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_tool_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY ai_tool_policies_read ON ai_tool_policies FOR SELECT
  USING (CASE WHEN org_id IS NULL
              THEN breeze_has_partner_access(partner_id) OR partner_id = breeze_current_partner_id()
              ELSE breeze_has_org_access(org_id) END);
CREATE POLICY ai_tool_policies_insert ON ai_tool_policies FOR INSERT
  WITH CHECK (CASE WHEN org_id IS NULL THEN breeze_has_partner_access(partner_id)
                   ELSE breeze_has_org_access(org_id) END);
CREATE POLICY ai_tool_policies_update ON ai_tool_policies FOR UPDATE
  USING (CASE WHEN org_id IS NULL THEN breeze_has_partner_access(partner_id)
              ELSE breeze_has_org_access(org_id) END)
  WITH CHECK (CASE WHEN org_id IS NULL THEN breeze_has_partner_access(partner_id)
                   ELSE breeze_has_org_access(org_id) END);
CREATE POLICY ai_tool_policies_delete ON ai_tool_policies FOR DELETE
  USING (CASE WHEN org_id IS NULL THEN breeze_has_partner_access(partner_id)
              ELSE breeze_has_org_access(org_id) END);

GRANT SELECT, INSERT, UPDATE, DELETE ON mcp_sessions, approval_requests, ai_tool_policies
TO breeze_app;
