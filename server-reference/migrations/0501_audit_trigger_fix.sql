-- Same fix as the audit branch's 0300_audit_checkpoints.sql (identical function body), so the
-- agents branch's tests can write audit events on their own: stored generated columns are
-- computed AFTER BEFORE-row triggers, so NEW.prev_hash / NEW.chain_hash are NULL inside
-- breeze_audit_before_insert (0002) and every append was refused. The lead may drop this
-- file at merge time (0300 installs the same body).
CREATE OR REPLACE FUNCTION breeze_audit_before_insert() RETURNS trigger
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
