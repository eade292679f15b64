-- Audit checkpoints, retention anchors and head inspection (SPEC 6.1).
--
-- audit_checkpoints: signed checkpoints (breeze_core::audit::Checkpoint JSON wire form) of
-- each chain's head, made by the checkpoint job. audit_anchors: the checkpoint a pruned
-- chain starts from, one row per retention run (the current anchor is the highest seq).
-- Both are append-only like the log itself.

CREATE TABLE audit_checkpoints (
  chain_key   text NOT NULL CHECK (chain_key = 'system' OR chain_key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  seq         bigint NOT NULL CHECK (seq >= 0),
  org_id      uuid,
  checkpoint  text NOT NULL,
  key_id      text GENERATED ALWAYS AS ((checkpoint::jsonb) ->> 'key_id') STORED,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_key, seq),
  CHECK (chain_key = coalesce(org_id::text, 'system')),
  CHECK (((checkpoint::jsonb) ->> 'sequence')::bigint = seq),
  CHECK (((checkpoint::jsonb) ->> 'chain') = chain_key),
  CHECK (key_id IS NOT NULL)
);

CREATE TABLE audit_anchors (
  chain_key   text NOT NULL CHECK (chain_key = 'system' OR chain_key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  seq         bigint NOT NULL CHECK (seq >= 0),
  org_id      uuid,
  checkpoint  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_key, seq),
  CHECK (chain_key = coalesce(org_id::text, 'system')),
  CHECK (((checkpoint::jsonb) ->> 'sequence')::bigint = seq),
  CHECK (((checkpoint::jsonb) ->> 'chain') = chain_key)
);

-- Append-only: no UPDATE, DELETE or TRUNCATE for any role (retention keeps old checkpoints).
CREATE FUNCTION breeze_audit_refuse_any_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit table is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END $$;

CREATE TRIGGER audit_checkpoints_refuse_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION breeze_audit_refuse_any_change();
CREATE TRIGGER audit_checkpoints_refuse_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION breeze_audit_refuse_truncate();
CREATE TRIGGER audit_anchors_refuse_update_delete BEFORE UPDATE OR DELETE ON audit_anchors
  FOR EACH ROW EXECUTE FUNCTION breeze_audit_refuse_any_change();
CREATE TRIGGER audit_anchors_refuse_truncate BEFORE TRUNCATE ON audit_anchors
  FOR EACH STATEMENT EXECUTE FUNCTION breeze_audit_refuse_truncate();

-- The chain heads move only from the audit_log insert trigger (trigger depth 2), one step
-- at a time; a direct UPDATE or DELETE (even by the owner) is refused.
CREATE FUNCTION breeze_audit_heads_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1
     AND NEW.chain_key = OLD.chain_key AND NEW.next_seq = OLD.next_seq + 1 THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit chain heads move only by appending (% refused)', TG_OP USING ERRCODE = '42501';
END $$;
CREATE TRIGGER audit_chain_heads_guard BEFORE UPDATE OR DELETE ON audit_chain_heads
  FOR EACH ROW EXECUTE FUNCTION breeze_audit_heads_guard();

-- Reads (without locking) the heads of the chains the context may see: every chain for
-- system scope, the accessible organizations' chains otherwise.
CREATE FUNCTION breeze_audit_heads()
RETURNS TABLE (chain_key text, next_seq bigint, head_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT h.chain_key, h.next_seq, h.head_hash FROM audit_chain_heads h
   WHERE (h.chain_key = 'system' AND breeze_is_system())
      OR (h.chain_key <> 'system' AND breeze_has_org_access(h.chain_key::uuid))
   ORDER BY h.chain_key
$$;

ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_checkpoints_select ON audit_checkpoints FOR SELECT
  USING (breeze_has_org_access(org_id) OR (org_id IS NULL AND breeze_is_system()));
-- only system work (the checkpoint job) signs checkpoints
CREATE POLICY audit_checkpoints_insert ON audit_checkpoints FOR INSERT
  WITH CHECK (breeze_is_system());

ALTER TABLE audit_anchors ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_anchors FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_anchors_select ON audit_anchors FOR SELECT
  USING (breeze_has_org_access(org_id) OR (org_id IS NULL AND breeze_is_system()));
-- only the retention run (maintenance role, system scope) sets an anchor
CREATE POLICY audit_anchors_insert ON audit_anchors FOR INSERT
  WITH CHECK (current_user = 'breeze_maint' AND breeze_is_system());

REVOKE ALL ON audit_checkpoints, audit_anchors FROM PUBLIC;
GRANT SELECT, INSERT ON audit_checkpoints TO breeze_app;
GRANT SELECT ON audit_anchors TO breeze_app;
-- retention: read retention periods and checkpoints, append the retention record and the
-- run event, delete the prefix (trigger + flag), record the anchor
GRANT SELECT ON organizations TO breeze_maint;
GRANT SELECT ON audit_checkpoints TO breeze_maint;
GRANT SELECT, INSERT ON audit_anchors TO breeze_maint;
GRANT INSERT ON audit_log TO breeze_maint;
REVOKE ALL ON FUNCTION breeze_audit_heads() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION breeze_audit_heads() TO breeze_app, breeze_maint;
