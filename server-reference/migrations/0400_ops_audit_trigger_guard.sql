-- Operations (ops branch): make sure audit appends work on this branch.
--
-- 0002's breeze_audit_before_insert reads the stored generated columns NEW.prev_hash and
-- NEW.chain_hash, which PostgreSQL computes only AFTER BEFORE-row triggers (NULL there), so
-- every append was refused. The audit branch fixes this in 0300 (reading the entry JSON);
-- this migration applies the SAME body only when the function still has the 0002 defect, so
-- after the merge (0300 applied first) it is a no-op and never overrides 0300.
DO $do$
BEGIN
  IF (SELECT prosrc FROM pg_proc WHERE proname = 'breeze_audit_before_insert') LIKE '%NEW.prev_hash%' THEN
    EXECUTE $fn$
CREATE OR REPLACE FUNCTION breeze_audit_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $body$
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
END $body$
$fn$;
  END IF;
END $do$;
