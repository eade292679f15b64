-- Outbound webhooks and audit streaming (SPEC 13, issue 18): subscriptions, the durable
-- outbox of deliveries (written in the transaction of the audit entry it comes from), the
-- log of every attempt, and the optional per-organization host allow-list. Every table
-- carries org_id and is under forced row-level security (organization of the context);
-- the delivery workers claim rows in a system-scope transaction with FOR UPDATE SKIP LOCKED.

CREATE TABLE webhook_subscriptions (
  id                          uuid PRIMARY KEY,
  org_id                      uuid NOT NULL REFERENCES organizations(id),
  name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- the whole URL is an envelope (field webhook_subscriptions.url): its path or query may
  -- carry a receiver's token. Only the host is kept in clear (display, allow-list).
  url                         text NOT NULL,
  url_host                    text NOT NULL CHECK (length(url_host) BETWEEN 1 AND 253),
  events                      text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 16),
  -- envelope (field webhook_subscriptions.secret), whsec_ wire form inside
  secret                      text NOT NULL,
  -- during a roll's overlap the previous secret signs too (field webhook_subscriptions.previous_secret)
  previous_secret             text,
  previous_secret_expires_at  timestamptz,
  status                      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  disabled_reason             text CHECK (disabled_reason IS NULL OR disabled_reason ~ '^[a-z_]{1,40}$'),
  consecutive_failures        integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  created_by                  uuid REFERENCES users(id),
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  secret_rolled_at            timestamptz,
  CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL)),
  -- a delivery names its subscription AND its organization, which must agree
  UNIQUE (id, org_id)
);
CREATE INDEX webhook_subscriptions_org ON webhook_subscriptions (org_id) WHERE status = 'active';

-- The outbox. `msg_id` (the webhook-id header) is derived from the row id: stable per event
-- and subscription, the same on every retry and redelivery.
CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  msg_id           text GENERATED ALWAYS AS ('msg_' || replace(id::text, '-', '')) STORED,
  org_id           uuid NOT NULL REFERENCES organizations(id),
  subscription_id  uuid NOT NULL,
  event_type       text NOT NULL CHECK (event_type ~ '^[a-z]+(\.[a-z_]+)+$'),
  payload          text NOT NULL CHECK (length(payload) <= 1048576),
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- the claim of a worker: another replica takes the row over once it lapses (a crash
  -- mid-send), so delivery is at least once
  locked_until     timestamptz,
  last_status_code integer,
  last_error       text CHECK (last_error IS NULL OR last_error ~ '^[a-z_]{1,40}$'),
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  FOREIGN KEY (subscription_id, org_id) REFERENCES webhook_subscriptions (id, org_id) ON DELETE CASCADE,
  UNIQUE (id, org_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at DESC, id);
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at) WHERE status <> 'pending';

-- Every attempt: when, how long, the answer's status, a stable error code, and at most
-- 1 KiB of the response body (never a header, the URL or the secret).
CREATE TABLE webhook_delivery_attempts (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  delivery_id      uuid NOT NULL,
  org_id           uuid NOT NULL REFERENCES organizations(id),
  attempt          integer NOT NULL CHECK (attempt >= 1),
  replica          uuid NOT NULL,
  started_at       timestamptz NOT NULL,
  duration_ms      integer NOT NULL CHECK (duration_ms >= 0),
  status_code      integer,
  error            text CHECK (error IS NULL OR error ~ '^[a-z_]{1,40}$'),
  response_excerpt text CHECK (response_excerpt IS NULL OR octet_length(response_excerpt) <= 1024),
  FOREIGN KEY (delivery_id, org_id) REFERENCES webhook_deliveries (id, org_id) ON DELETE CASCADE
);
CREATE INDEX webhook_delivery_attempts_delivery ON webhook_delivery_attempts (delivery_id, started_at);

-- NULL = any public host; otherwise a subscription's host must match an entry (exact, or
-- `*.example.com` for subdomains), at save time and at every send.
ALTER TABLE organizations ADD COLUMN webhook_allowed_hosts text[]
  CHECK (webhook_allowed_hosts IS NULL OR cardinality(webhook_allowed_hosts) <= 64);

ALTER TABLE webhook_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_subscriptions_all ON webhook_subscriptions FOR ALL
  USING (breeze_has_org_access(org_id)) WITH CHECK (breeze_has_org_access(org_id));

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_all ON webhook_deliveries FOR ALL
  USING (breeze_has_org_access(org_id)) WITH CHECK (breeze_has_org_access(org_id));

ALTER TABLE webhook_delivery_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_delivery_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_delivery_attempts_all ON webhook_delivery_attempts FOR ALL
  USING (breeze_has_org_access(org_id)) WITH CHECK (breeze_has_org_access(org_id));

GRANT SELECT, INSERT, UPDATE, DELETE ON
  webhook_subscriptions, webhook_deliveries, webhook_delivery_attempts
TO breeze_app;

-- retention records are streamed too (audit.appended): the retention job, which runs as the
-- maintenance role, writes their deliveries in its own transaction
GRANT SELECT ON webhook_subscriptions TO breeze_maint;
GRANT INSERT ON webhook_deliveries TO breeze_maint;
