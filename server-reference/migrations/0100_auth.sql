-- Authentication flows (issue 7, auth part): MFA login challenges.
--
-- A password-verified login of a user with MFA gets a short-lived (5 min), single-purpose
-- challenge token (a SessionToken, 48 nanoid characters). It is NOT an access token: only
-- its SHA-256 is stored here, and only POST /api/v1/auth/mfa/verify accepts it. It is
-- consumed atomically (used_at) when the second factor succeeds.

CREATE TABLE mfa_challenges (
  id          uuid PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users(id),
  token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);

-- Auth-internal: only system scope (the auth flows) sees challenges.
ALTER TABLE mfa_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_challenges FORCE ROW LEVEL SECURITY;
CREATE POLICY mfa_challenges_all ON mfa_challenges FOR ALL
  USING (breeze_is_system()) WITH CHECK (breeze_is_system());

REVOKE ALL ON mfa_challenges FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_challenges TO breeze_app;
