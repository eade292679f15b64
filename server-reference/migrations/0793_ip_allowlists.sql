-- Partner IP allow-lists (SPEC 16): the client networks a partner's user logins, access
-- tokens and API keys may come from. One row per partner; no row is mode off. The list is
-- read fresh with the user's row (store/principal.rs `user_by_id`) and the API key's row
-- (`api_key_by_hash`) on every request, so a change committed through any replica applies
-- to the next request on every replica. The networks are normalized by
-- breeze_core::ipallow (IPv4-mapped as IPv4, sorted, no duplicates); the `cidr` type also
-- refuses host bits set and anything that is not a network.
CREATE TABLE partner_ip_allowlists (
  partner_id uuid PRIMARY KEY REFERENCES partners(id),
  mode       text NOT NULL CHECK (mode IN ('off', 'enforce')),
  cidrs      cidr[] NOT NULL DEFAULT '{}'
               CHECK (cardinality(cidrs) <= 100 AND array_position(cidrs, NULL) IS NULL),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid REFERENCES users(id),
  -- an enforced empty list would lock every user and key of the partner out
  CHECK (mode = 'off' OR cardinality(cidrs) >= 1)
);

-- Partner axis (as partners and partner memberships): read by a context that reaches the
-- partner, written only with the partner-wide write right (partner scope with
-- org_access = all, or the unnarrowed system context). Organization scope reaches no row.
ALTER TABLE partner_ip_allowlists ENABLE ROW LEVEL SECURITY;
ALTER TABLE partner_ip_allowlists FORCE ROW LEVEL SECURITY;
CREATE POLICY partner_ip_allowlists_select ON partner_ip_allowlists FOR SELECT
  USING (breeze_has_partner_access(partner_id));
CREATE POLICY partner_ip_allowlists_insert ON partner_ip_allowlists FOR INSERT
  WITH CHECK (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide());
CREATE POLICY partner_ip_allowlists_update ON partner_ip_allowlists FOR UPDATE
  USING (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide())
  WITH CHECK (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide());
CREATE POLICY partner_ip_allowlists_delete ON partner_ip_allowlists FOR DELETE
  USING (breeze_has_partner_access(partner_id) AND breeze_can_write_partner_wide());

GRANT SELECT, INSERT, UPDATE, DELETE ON partner_ip_allowlists TO breeze_app;
