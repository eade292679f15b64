-- Issue 23, the scale run: an organization's audit page filtered by an action prefix
-- (`GET /api/v1/audit?orgId=...&action=remote.*`, the MCP query_audit_log tool).
--
-- The matching entries of several actions are wanted in sequence order, and no index held
-- them in that order: PostgreSQL read every match in the chain and sorted it (60-94 ms for
-- a chain of 100,000 entries, growing with the chain). With the chain's entries indexed by
-- action and then sequence, the listing finds the chain's distinct matching actions with
-- one probe each and reads each action's page in sequence order, then merges them
-- (store::audit::list): at most (actions x page) entries, whatever the chain's length. The
-- prefix is matched with `^@` (starts_with), which is leakproof and so becomes this index's
-- range under row-level security; `LIKE` is not. The same index serves an exact action
-- inside one chain.

CREATE INDEX audit_log_chain_action ON audit_log (chain_key, action text_pattern_ops, seq);
