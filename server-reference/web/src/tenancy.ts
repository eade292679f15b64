// Organizations and sites the user can see, for filters and key forms.
import { get, seg, withQuery } from './api';
import type { Me, Org, Page, Site } from './types';
import { can } from './me';

/** Up to 100 organizations in reach (the org user's own when it cannot list organizations). */
export async function loadOrgs(me: Me): Promise<Org[]> {
  if (can(me, 'organizations:read')) {
    const page = await get<Page<Org>>(withQuery('/api/v1/orgs', { limit: '100' }));
    return page.items;
  }
  return me.orgId ? [{ id: me.orgId, partnerId: me.partnerId ?? '', name: 'My organization', status: 'active' }] : [];
}

export async function loadSites(orgId: string): Promise<Site[]> {
  const page = await get<Page<Site>>(withQuery(`/api/v1/orgs/${seg(orgId)}/sites`, { limit: '100' }));
  return page.items;
}
