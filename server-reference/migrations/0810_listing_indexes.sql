-- Issue 23, the scale run: the listings' filters read an index each.
--
-- GET /api/v1/audit pages through the chains the caller sees in (chain, sequence) order.
-- Without an index for a filter, PostgreSQL reads the primary key in that order and
-- tests every row until the page is full: cheap when the filter matches most rows, a scan
-- of the whole table when it matches few. At 1,000,000 entries one actor's 20 events took
-- 486 ms, `result=denied` 42 ms, one rare action 53 ms and one rare resource type 81 ms,
-- and each grew with the table (docs/PERFORMANCE.md, "Cost as the fleet grows").
--
-- Each index leads with its filter and continues in the listing's order, so an exact
-- match is read in page order and stops at the page's end; a prefix (`action=device.*`)
-- or the two spellings of a resource type read the matching rows and sort them, which
-- the planner only chooses when they are few (listings are planned per execution,
-- ScopedTx::plan_per_execution). Results other than success are rare and the only ones
-- worth an index: that one is partial.

CREATE INDEX audit_log_actor ON audit_log (actor_id, chain_key, seq)
  WHERE actor_id IS NOT NULL;
CREATE INDEX audit_log_result ON audit_log (result, chain_key, seq)
  WHERE result <> 'success';
CREATE INDEX audit_log_action ON audit_log (action text_pattern_ops, chain_key, seq);
CREATE INDEX audit_log_resource ON audit_log (resource_type, chain_key, seq);

-- GET /api/v1/devices?status=...: a status filter read every device row and sorted the
-- matches (a sequential scan: 6 ms at 10,000 devices, 17 ms at 100,000 for `quarantined`).
CREATE INDEX devices_status ON devices (status, id);
