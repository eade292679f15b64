-- Fix (tenancy branch, 0200): the audit insert trigger of 0002 compared NEW.prev_hash and
-- stored NEW.chain_hash, but STORED generated columns are computed AFTER BEFORE triggers
-- run (they are NULL inside the trigger), so every append was refused with 23514. Read the
-- same values from the entry's JSON, exactly as the generated columns define them.
-- If the audit owner ships the same fix in their range, keep one of the two.
CREATE OR REPLACE FUNCTION breeze_audit_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  h audit_chain_heads%ROWTYPE;
  prev text := (NEW.entry::jsonb) ->> 'prev_hash';
  hash text := (NEW.entry::jsonb) ->> 'chain_hash';
BEGIN
  SELECT * INTO h FROM audit_chain_heads WHERE chain_key = NEW.chain_key FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'audit chain head not locked' USING ERRCODE = '55000';
  END IF;
  IF NEW.seq <> h.next_seq OR prev IS DISTINCT FROM h.head_hash OR hash IS NULL THEN
    RAISE EXCEPTION 'audit entry does not extend its chain' USING ERRCODE = '23514';
  END IF;
  UPDATE audit_chain_heads SET next_seq = NEW.seq + 1, head_hash = hash
    WHERE chain_key = NEW.chain_key;
  NEW.inserted_at := now();
  RETURN NEW;
END $$;
