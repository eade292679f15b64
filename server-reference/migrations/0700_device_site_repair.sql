-- Issue 15, finding 1: moving a device used to change only `devices.site_id`, leaving its
-- heartbeat row and its unfinished commands in the old site. Under the heartbeat batch's
-- narrowed context such a row cannot be updated (42501), which failed whole batches.
-- The move now carries these rows along; this repairs the rows moved devices left behind.
-- Finished commands keep the site they ran in (history).
--
-- Runs as the owner, whose row-level security is forced: a system context for this
-- transaction only.
SELECT set_config('breeze.scope', 'system', true),
       set_config('breeze.accessible_org_ids', '*', true),
       set_config('breeze.accessible_partner_ids', '*', true),
       set_config('breeze.allowed_site_ids', '*', true);

UPDATE device_heartbeats h SET site_id = d.site_id
  FROM devices d
 WHERE d.id = h.device_id AND d.org_id = h.org_id AND h.site_id <> d.site_id;

UPDATE device_commands c SET site_id = d.site_id
  FROM devices d
 WHERE d.id = c.device_id AND d.org_id = c.org_id AND c.site_id <> d.site_id
   AND c.status IN ('pending', 'sent');
