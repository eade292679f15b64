-- Remote sessions (SPEC 12, issue 17): terminal sessions relayed browser <-> agent, their
-- one-time tickets, their encrypted recordings, and the short-lived outcome of a file
-- operation. Every table carries org_id and site_id and is under forced row-level security
-- with the device tables' policy (organization and site of the caller's context).

CREATE TABLE remote_sessions (
  id                 uuid PRIMARY KEY,
  org_id             uuid NOT NULL REFERENCES organizations(id),
  site_id            uuid NOT NULL,
  device_id          uuid NOT NULL REFERENCES devices(id),
  user_id            uuid NOT NULL REFERENCES users(id),
  type               text NOT NULL CHECK (type = 'terminal'),
  status             text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'connected', 'ended')),
  cols               integer NOT NULL CHECK (cols BETWEEN 1 AND 1000),
  rows               integer NOT NULL CHECK (rows BETWEEN 1 AND 1000),
  created_at         timestamptz NOT NULL DEFAULT now(),
  -- a pending session nobody connected to is dead after this
  connect_by         timestamptz NOT NULL,
  connected_at       timestamptz,
  ended_at           timestamptz,
  end_reason         text CHECK (end_reason IS NULL OR end_reason ~ '^[a-z_]{1,40}$'),
  -- set by DELETE (or a re-check elsewhere): the replica holding the lease closes both ends
  revoked            boolean NOT NULL DEFAULT false,
  -- exactly one replica owns a connected session: the one whose lease has not lapsed
  lease_owner        uuid,
  lease_until        timestamptz,
  bytes_in           bigint NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
  bytes_out          bigint NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),
  transcript_bytes   bigint CHECK (transcript_bytes IS NULL OR transcript_bytes >= 0),
  transcript_sha256  text CHECK (transcript_sha256 IS NULL OR transcript_sha256 ~ '^[0-9a-f]{64}$'),
  truncated          boolean NOT NULL DEFAULT false,
  CHECK (status <> 'connected' OR (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
);
-- live sessions per organization and per user (the caps)
CREATE INDEX remote_sessions_live_org ON remote_sessions (org_id) WHERE status <> 'ended';
CREATE INDEX remote_sessions_live_user ON remote_sessions (user_id) WHERE status <> 'ended';
CREATE INDEX remote_sessions_device ON remote_sessions (device_id, created_at);

-- One-time tickets: only the SHA-256 of the ticket is stored. Bound to the user, their
-- login session (refresh family), the remote session, the client IP and a hash of the
-- User-Agent; consumed by one atomic UPDATE. The access-token claims of the request that
-- asked for the ticket ride along, so the socket keeps being judged as that login session.
CREATE TABLE remote_session_tickets (
  ticket_hash   bytea PRIMARY KEY CHECK (length(ticket_hash) = 32),
  session_id    uuid NOT NULL REFERENCES remote_sessions(id) ON DELETE CASCADE,
  org_id        uuid NOT NULL REFERENCES organizations(id),
  site_id       uuid NOT NULL,
  user_id       uuid NOT NULL REFERENCES users(id),
  family_id     uuid NOT NULL,
  client_ip     text NOT NULL CHECK (length(client_ip) BETWEEN 2 AND 64),
  ua_hash       bytea NOT NULL CHECK (length(ua_hash) = 32),
  claims        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  consumed_at   timestamptz
);
CREATE INDEX remote_session_tickets_session ON remote_session_tickets (session_id);
CREATE INDEX remote_session_tickets_expiry ON remote_session_tickets (expires_at);

-- Recordings, in encrypted chunks (SPEC 4 envelopes, field remote_sessions.transcript), in
-- order; their SHA-256 over the whole plaintext is sealed in the audit chain at the end.
CREATE TABLE remote_session_transcripts (
  -- a single key for `secrets rekey`'s keyset walk
  id          uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  session_id  uuid NOT NULL REFERENCES remote_sessions(id) ON DELETE CASCADE,
  seq         integer NOT NULL CHECK (seq >= 0),
  org_id      uuid NOT NULL REFERENCES organizations(id),
  site_id     uuid NOT NULL,
  chunk       text NOT NULL,
  PRIMARY KEY (session_id, seq)
);

-- The outcome of a file_read / file_list / file_write (encrypted envelope, field
-- device_commands.file_outcome): kept only until the waiting request has read it.
ALTER TABLE device_commands ADD COLUMN file_outcome text;

ALTER TABLE remote_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE remote_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY remote_sessions_all ON remote_sessions FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id));

ALTER TABLE remote_session_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE remote_session_tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY remote_session_tickets_all ON remote_session_tickets FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id));

ALTER TABLE remote_session_transcripts ENABLE ROW LEVEL SECURITY;
ALTER TABLE remote_session_transcripts FORCE ROW LEVEL SECURITY;
CREATE POLICY remote_session_transcripts_all ON remote_session_transcripts FOR ALL
  USING (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id))
  WITH CHECK (breeze_has_org_access(org_id) AND breeze_has_site_access(site_id));

GRANT SELECT, INSERT, UPDATE, DELETE ON
  remote_sessions, remote_session_tickets, remote_session_transcripts
TO breeze_app;
