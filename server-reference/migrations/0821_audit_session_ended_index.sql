-- Issue 23: replaying a remote session's recording first reads the digest sealed in the
-- organization's audit chain by the session's `remote.session.ended` event
-- (store::audit::session_ended_details). No index led with the session: the lookup read
-- the organization's events of that action until the session's came (18-39 ms with 10,000
-- of them in one chain; 1.6-1.7 ms with this index), growing with the organization's
-- sessions. A partial
-- index over those events only (one row per ended session) makes it one probe, at no cost
-- to any other audit append.

CREATE INDEX audit_log_session_ended ON audit_log (chain_key, resource_id, seq)
  WHERE action = 'remote.session.ended';
