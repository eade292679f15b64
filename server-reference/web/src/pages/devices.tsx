// Devices (SPEC 15): status, last seen, organization and site filters, cursor pagination.
// Hostnames and every other agent-reported field are rendered as text.
import type { JSX } from 'preact';
import { get, withQuery } from '../api';
import { ago } from '../format';
import { useMe } from '../me';
import { href, isUuid, navigate, type Route } from '../router';
import { loadOrgs, loadSites } from '../tenancy';
import type { Device, Page } from '../types';
import { ErrorBox, Field, Loading, Pager, StatusBadge, useAsync, usePager } from '../ui';

const STATUSES = ['online', 'offline', 'quarantined', 'decommissioned'];

export function DevicesPage({ route }: { route: Route }): JSX.Element {
  const me = useMe();
  const orgId = isUuid(route.query.get('orgId')) ? route.query.get('orgId') ?? undefined : undefined;
  const siteId = isUuid(route.query.get('siteId')) ? route.query.get('siteId') ?? undefined : undefined;
  const status = STATUSES.includes(route.query.get('status') ?? '') ? route.query.get('status') ?? undefined : undefined;
  const filters = { orgId, siteId, status };
  const pager = usePager(JSON.stringify(filters));
  const orgs = useAsync(() => loadOrgs(me), [me.id]);
  const sites = useAsync(() => (orgId ? loadSites(orgId) : Promise.resolve([])), [orgId]);
  const page = useAsync(
    () => get<Page<Device>>(withQuery('/api/v1/devices', { ...filters, limit: '25', cursor: pager.cursor })),
    [orgId, siteId, status, pager.cursor],
  );
  const setFilter = (k: 'orgId' | 'siteId' | 'status', v: string): void => {
    const next = { ...filters, [k]: v || undefined };
    if (k === 'orgId') next.siteId = undefined;
    navigate('devices', next);
  };
  const orgName = (id: string): string => orgs.data?.find((o) => o.id === id)?.name ?? id.slice(0, 8);
  const siteName = (id: string): string => sites.data?.find((s) => s.id === id)?.name ?? id.slice(0, 8);

  return (
    <section>
      <header class="page-head">
        <h1>Devices</h1>
        <button type="button" onClick={page.reload}>Refresh</button>
      </header>
      <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Organization">
          <select value={orgId ?? ''} onChange={(e) => setFilter('orgId', e.currentTarget.value)}>
            <option value="">All</option>
            {(orgs.data ?? []).map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
          </select>
        </Field>
        <Field label="Site">
          <select value={siteId ?? ''} disabled={!orgId} onChange={(e) => setFilter('siteId', e.currentTarget.value)}>
            <option value="">{orgId ? 'All' : 'Choose an organization'}</option>
            {(sites.data ?? []).map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </Field>
        <Field label="Status">
          <select value={status ?? ''} onChange={(e) => setFilter('status', e.currentTarget.value)}>
            <option value="">All</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </Field>
      </form>
      <ErrorBox error={orgs.error ?? sites.error} />
      <ErrorBox error={page.error} />
      {page.loading && !page.data ? <Loading what="devices" /> : null}
      {page.data ? (
        page.data.items.length === 0 ? (
          <p class="muted">No devices match.</p>
        ) : (
          <table aria-busy={page.loading}>
            <thead>
              <tr><th>Name</th><th>Status</th><th>Last seen</th><th>OS</th><th>Organization</th><th>Site</th><th>Agent</th></tr>
            </thead>
            <tbody>
              {page.data.items.map((d) => (
                <tr key={d.id}>
                  <td><a href={href(`devices/${d.id}`)} data-testid="device-link">{d.displayName ?? d.hostname}</a></td>
                  <td><StatusBadge status={d.status} /></td>
                  <td title={d.lastSeenAt ?? ''}>{ago(d.lastSeenAt)}</td>
                  <td>{d.osType} {d.osVersion}</td>
                  <td>{orgName(d.orgId)}</td>
                  <td>{siteName(d.siteId)}</td>
                  <td>{d.agentVersion}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : null}
      <Pager page={page.data} pager={pager} />
    </section>
  );
}
