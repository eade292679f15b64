// API keys and enrollment keys of an organization (SPEC 3, 15): create (the raw value is
// answered once and shown once, with a copy button; the server keeps only a hash), list,
// revoke. The raw value lives in component state until the user dismisses it.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { del, get, post, seg, withQuery } from '../api';
import { when } from '../format';
import { can, useMe } from '../me';
import { isUuid, navigate, type Route } from '../router';
import { loadOrgs, loadSites } from '../tenancy';
import type { ApiKey, EnrollmentKey, Page } from '../types';
import { ConfirmButton, ErrorBox, Field, Loading, Pager, SecretOnce, StatusBadge, useAction, useAsync, usePager } from '../ui';

function EnrollmentKeys({ orgId }: { orgId: string }): JSX.Element {
  const pager = usePager(orgId);
  const [tick, setTick] = useState(0);
  const sites = useAsync(() => loadSites(orgId), [orgId]);
  const page = useAsync(() => get<Page<EnrollmentKey>>(withQuery(`/api/v1/orgs/${seg(orgId)}/enrollment-keys`, { limit: '20', cursor: pager.cursor })), [orgId, pager.cursor, tick]);
  const [name, setName] = useState('');
  const [siteId, setSiteId] = useState('');
  const [maxUsage, setMaxUsage] = useState('1');
  const [minutes, setMinutes] = useState('60');
  const [created, setCreated] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const site = siteId || sites.data?.[0]?.id || '';
  const siteName = (id: string): string => sites.data?.find((s) => s.id === id)?.name ?? id.slice(0, 8);

  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      const k = await post<EnrollmentKey & { key: string }>(`/api/v1/orgs/${seg(orgId)}/enrollment-keys`, {
        siteId: site, name: name.trim(), maxUsage: Number(maxUsage), expiresInMinutes: Number(minutes),
      });
      setCreated(k.key);
      setName('');
      setTick((t) => t + 1);
    });
  };

  return (
    <section aria-label="Enrollment keys">
      <h2>Enrollment keys</h2>
      {created ? <SecretOnce label="New enrollment key" value={created} onDone={() => setCreated(null)} /> : null}
      <form class="inline-form" aria-label="New enrollment key" onSubmit={(e) => void create(e)}>
        <Field label="Name"><input name="enrollment-key-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        <Field label="Site">
          <select value={site} onChange={(e) => setSiteId(e.currentTarget.value)} required>
            {(sites.data ?? []).map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </Field>
        <Field label="Uses"><input type="number" min={1} max={100000} value={maxUsage} onInput={(e) => setMaxUsage(e.currentTarget.value)} /></Field>
        <Field label="Expires in (minutes)"><input type="number" min={1} max={525600} value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} /></Field>
        <button type="submit" class="primary" disabled={busy || !site}>Create enrollment key</button>
      </form>
      <ErrorBox error={error ?? sites.error} />
      <ErrorBox error={page.error} />
      {page.loading && !page.data ? <Loading what="enrollment keys" /> : null}
      {page.data && page.data.items.length === 0 ? <p class="muted">No enrollment keys.</p> : null}
      {page.data && page.data.items.length > 0 ? (
        <table>
          <thead><tr><th>Name</th><th>Site</th><th>Used</th><th>Expires</th><th>Created</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {page.data.items.map((k) => (
              <tr key={k.id}>
                <td>{k.name}{k.hasSecret ? ' (with secret)' : ''}</td>
                <td>{siteName(k.siteId)}</td>
                <td>{k.usageCount} / {k.maxUsage}</td>
                <td>{when(k.expiresAt)}</td>
                <td>{when(k.createdAt)}</td>
                <td>
                  <ConfirmButton label="Revoke" title={`Revoke enrollment key ${k.name}`} confirmLabel="Revoke" danger
                    onConfirm={async () => { await del(`/api/v1/enrollment-keys/${seg(k.id)}`); setTick((t) => t + 1); }}>
                    <p>Agents can no longer enroll with this key. Devices already enrolled are not affected.</p>
                  </ConfirmButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager page={page.data} pager={pager} />
    </section>
  );
}

function ApiKeys({ orgId }: { orgId: string }): JSX.Element {
  const me = useMe();
  const pager = usePager(orgId);
  const [tick, setTick] = useState(0);
  const page = useAsync(() => get<Page<ApiKey>>(withQuery(`/api/v1/orgs/${seg(orgId)}/api-keys`, { limit: '20', cursor: pager.cursor })), [orgId, pager.cursor, tick]);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState('devices:read');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const writable = can(me, 'organizations:write');

  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      const k = await post<ApiKey & { key: string }>(`/api/v1/orgs/${seg(orgId)}/api-keys`, {
        name: name.trim(),
        scopes: scopes.split(/[\s,]+/).filter(Boolean),
        ...(days ? { expiresInDays: Number(days) } : {}),
      });
      setCreated(k.key);
      setName('');
      setTick((t) => t + 1);
    });
  };

  return (
    <section aria-label="API keys">
      <h2>API keys</h2>
      {created ? <SecretOnce label="New API key" value={created} onDone={() => setCreated(null)} /> : null}
      {writable ? (
        <form class="inline-form" aria-label="New API key" onSubmit={(e) => void create(e)}>
          <Field label="Name"><input name="api-key-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
          <Field label="Scopes" hint="space or comma separated, e.g. devices:read audit:read"><input name="scopes" required value={scopes} onInput={(e) => setScopes(e.currentTarget.value)} /></Field>
          <Field label="Expires in (days)"><input type="number" min={1} max={3650} value={days} onInput={(e) => setDays(e.currentTarget.value)} /></Field>
          <button type="submit" class="primary" disabled={busy}>Create API key</button>
        </form>
      ) : null}
      <ErrorBox error={error} />
      <ErrorBox error={page.error} />
      {page.loading && !page.data ? <Loading what="API keys" /> : null}
      {page.data && page.data.items.length === 0 ? <p class="muted">No API keys.</p> : null}
      {page.data && page.data.items.length > 0 ? (
        <table>
          <thead><tr><th>Name</th><th>Prefix</th><th>Scopes</th><th>Status</th><th>Last used</th><th>Expires</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {page.data.items.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td><code>{k.keyPrefix}…</code></td>
                <td>{k.scopes.join(' ')}</td>
                <td><StatusBadge status={k.status} /></td>
                <td>{when(k.lastUsedAt)} ({k.usageCount} uses)</td>
                <td>{when(k.expiresAt)}</td>
                <td>
                  {writable && k.status === 'active' ? (
                    <ConfirmButton label="Revoke" title={`Revoke API key ${k.name}`} confirmLabel="Revoke" danger
                      onConfirm={async () => { await del(`/api/v1/api-keys/${seg(k.id)}`); setTick((t) => t + 1); }}>
                      <p>Every integration using this key stops working now.</p>
                    </ConfirmButton>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager page={page.data} pager={pager} />
    </section>
  );
}

export function KeysPage({ route }: { route: Route }): JSX.Element {
  const me = useMe();
  const orgs = useAsync(() => loadOrgs(me), [me.id]);
  const chosen = route.query.get('orgId');
  const orgId = isUuid(chosen) ? chosen : orgs.data?.[0]?.id;
  return (
    <section>
      <header class="page-head">
        <h1>Keys</h1>
        <Field label="Organization">
          <select value={orgId ?? ''} onChange={(e) => navigate('keys', { orgId: e.currentTarget.value })}>
            {(orgs.data ?? []).map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
          </select>
        </Field>
      </header>
      <ErrorBox error={orgs.error} />
      {orgs.loading && !orgs.data ? <Loading what="organizations" /> : null}
      {orgId ? (
        <>
          {can(me, 'devices:write') ? <EnrollmentKeys orgId={orgId} /> : null}
          {can(me, 'organizations:read') ? <ApiKeys orgId={orgId} /> : null}
        </>
      ) : orgs.data ? <p class="muted">No organization in reach.</p> : null}
    </section>
  );
}
