-- Audit log (SPEC 6.1): one hash chain per organization plus the system chain.
--
-- The `entry` column holds the entry's JSON wire form (breeze_core::audit::Entry), exactly
-- what an export bundle carries; verification recomputes every hash from it with the
-- breeze-core library. The query columns are GENERATED from it, so what a query shows can
-- never differ from what is verified.

CREATE TABLE audit_log (
  chain_key     text NOT NULL CHECK (chain_key = 'system' OR chain_key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  seq           bigint NOT NULL CHECK (seq >= 0),
  org_id        uuid,
  entry         text NOT NULL,
  prev_hash     text GENERATED ALWAYS AS ((entry::jsonb) ->> 'prev_hash') STORED,
  content_hash  text GENERATED ALWAYS AS ((entry::jsonb) ->> 'content_hash') STORED,
  chain_hash    text GENERATED ALWAYS AS ((entry::jsonb) ->> 'chain_hash') STORED,
  entry_kind    text GENERATED ALWAYS AS (CASE WHEN (entry::jsonb) ? 'event' THEN 'event' ELSE 'retention' END) STORED,
  action        text GENERATED ALWAYS AS ((entry::jsonb) #>> '{event,action}') STORED,
  resource_type text GENERATED ALWAYS AS ((entry::jsonb) #>> '{event,resource_type}') STORED,
  resource_id   text GENERATED ALWAYS AS ((entry::jsonb) #>> '{event,resource_id}') STORED,
  actor_type    text GENERATED ALWAYS AS ((entry::jsonb) #>> '{event,actor_type}') STORED,
  actor_id      text GENERATED ALWAYS AS ((entry::jsonb) #>> '{event,actor_id}') STORED,
  result        text GENERATED ALWAYS AS ((entry::jsonb) #>> '{event,result}') STORED,
  -- insertion time, not part of the hashed content (the event carries its own timestamp)
  inserted_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_key, seq),
  -- no two entries may follow the same predecessor: a fork cannot be stored
  UNIQUE (chain_key, prev_hash),
  CHECK (chain_key = coalesce(org_id::text, 'system')),
  CHECK (((entry::jsonb) ->> 'sequence')::bigint = seq),
  CHECK (((entry::jsonb) ->> 'chain') = chain_key),
  CHECK (chain_hash IS NOT NULL AND content_hash IS NOT NULL)
);
CREATE INDEX audit_log_org_action ON audit_log (org_id, resource_type, action, seq);

-- The head of each chain: next sequence and the last chain hash. Only the SECURITY DEFINER
-- functions below touch it; the runtime role has no privilege on it.
CREATE TABLE audit_chain_heads (
  chain_key  text PRIMARY KEY,
  next_seq   bigint NOT NULL CHECK (next_seq >= 0),
  head_hash  text NOT NULL
);

-- Locks the head of a chain for this transaction and returns it. The row lock is held to
-- commit, so entries are sealed in commit order and concurrent writers queue (no fork).
CREATE FUNCTION breeze_audit_lock_head(p_chain_key text, OUT next_seq bigint, OUT head_hash text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF p_chain_key IS NULL OR NOT (p_chain_key = 'system'
     OR p_chain_key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') THEN
    RAISE EXCEPTION 'invalid audit chain' USING ERRCODE = '22023';
  END IF;
  IF p_chain_key = 'system' THEN
    IF breeze_scope() = 'none' THEN
      RAISE EXCEPTION 'no access context' USING ERRCODE = '42501';
    END IF;
  ELSIF NOT breeze_has_org_access(p_chain_key::uuid) THEN
    RAISE EXCEPTION 'no access to audit chain' USING ERRCODE = '42501';
  END IF;
  INSERT INTO audit_chain_heads (chain_key, next_seq, head_hash)
    VALUES (p_chain_key, 0, repeat('0', 64)) ON CONFLICT DO NOTHING;
  SELECT h.next_seq, h.head_hash INTO next_seq, head_hash
    FROM audit_chain_heads h WHERE h.chain_key = p_chain_key FOR UPDATE;
END $$;

-- Every insert must extend its chain's head exactly: right sequence, right predecessor.
-- Stored generated columns are computed after BEFORE-row triggers (NULL here), so the
-- values are read from the entry JSON they are generated from.
CREATE FUNCTION breeze_audit_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  h audit_chain_heads%ROWTYPE;
  e jsonb := NEW.entry::jsonb;
BEGIN
  SELECT * INTO h FROM audit_chain_heads WHERE chain_key = NEW.chain_key FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'audit chain head not locked' USING ERRCODE = '55000';
  END IF;
  IF NEW.seq <> h.next_seq OR (e ->> 'prev_hash') IS DISTINCT FROM h.head_hash
     OR (e ->> 'chain_hash') IS NULL THEN
    RAISE EXCEPTION 'audit entry does not extend its chain' USING ERRCODE = '23514';
  END IF;
  UPDATE audit_chain_heads SET next_seq = NEW.seq + 1, head_hash = e ->> 'chain_hash'
    WHERE chain_key = NEW.chain_key;
  NEW.inserted_at := now();
  RETURN NEW;
END $$;

-- Append-only for every role. The one exception: the maintenance role deleting a prefix
-- during a retention run, with the session flag set (the retention job checks the rest).
CREATE FUNCTION breeze_audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_user = 'breeze_maint'
     AND current_setting('breeze.audit_maintenance', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit log is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END $$;

CREATE FUNCTION breeze_audit_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only (TRUNCATE refused)' USING ERRCODE = '42501';
END $$;

CREATE TRIGGER audit_log_before_insert BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION breeze_audit_before_insert();
CREATE TRIGGER audit_log_refuse_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION breeze_audit_refuse_change();
CREATE TRIGGER audit_log_refuse_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION breeze_audit_refuse_truncate();
CREATE TRIGGER audit_chain_heads_refuse_truncate BEFORE TRUNCATE ON audit_chain_heads
  FOR EACH STATEMENT EXECUTE FUNCTION breeze_audit_refuse_truncate();

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_select ON audit_log FOR SELECT
  USING (breeze_has_org_access(org_id) OR (org_id IS NULL AND breeze_is_system()));
CREATE POLICY audit_log_insert ON audit_log FOR INSERT
  WITH CHECK (breeze_has_org_access(org_id) OR (org_id IS NULL AND breeze_scope() <> 'none'));
-- no UPDATE policy exists at all; DELETE only for retention (see the trigger)
CREATE POLICY audit_log_delete ON audit_log FOR DELETE
  USING (current_user = 'breeze_maint' AND breeze_is_system());

REVOKE ALL ON audit_log, audit_chain_heads FROM PUBLIC;
GRANT SELECT, INSERT ON audit_log TO breeze_app;
GRANT SELECT, DELETE ON audit_log TO breeze_maint;
REVOKE ALL ON FUNCTION breeze_audit_lock_head(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION breeze_audit_lock_head(text) TO breeze_app, breeze_maint;
