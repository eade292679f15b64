// Webhooks (SPEC 13): subscriptions of an organization, their delivery log, a test event,
// redelivery, enable/disable and delete. Creating one answers its signing secret once.
// Writes need `webhooks:write` and an MFA session (the server checks both).
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, del, get, post, seg, withQuery } from '../api';
import { when } from '../format';
import { can, useMe } from '../me';
import { isUuid, navigate, type Route } from '../router';
import { loadOrgs } from '../tenancy';
import type { Page } from '../types';
import { ConfirmButton, ErrorBox, Field, Loading, Pager, SecretOnce, StatusBadge, useAction, useAsync, usePager } from '../ui';

interface Webhook {
  id: string;
  orgId: string;
  name: string;
  url: string;
  urlHost: string;
  events: string[];
  status: string;
  disabledReason: string | null;
  consecutiveFailures: number;
  createdAt: string;
}

interface Delivery {
  id: string;
  eventType: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

const EVENTS = ['device.enrolled', 'device.offline', 'device.quarantined', 'command.completed', 'remote.session.ended', 'approval.requested', 'approval.decided', 'audit.appended'];

function Deliveries({ hook, writable }: { hook: Webhook; writable: boolean }): JSX.Element {
  const pager = usePager(hook.id);
  const [tick, setTick] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const page = useAsync(() => get<Page<Delivery>>(withQuery(`/api/v1/webhooks/${seg(hook.id)}/deliveries`, { limit: '10', cursor: pager.cursor })), [hook.id, pager.cursor, tick]);
  const redeliver = async (d: Delivery): Promise<void> => {
    setError(null);
    try {
      await post(`/api/v1/webhooks/${seg(hook.id)}/deliveries/${seg(d.id)}/redeliver`);
      setTick((t) => t + 1);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div aria-label={`Deliveries of ${hook.name}`}>
      <ErrorBox error={page.error ?? error} />
      {page.loading && !page.data ? <Loading what="deliveries" /> : null}
      {page.data && page.data.items.length === 0 ? <p class="muted">No deliveries yet.</p> : null}
      {page.data && page.data.items.length > 0 ? (
        <table>
          <thead><tr><th>Created</th><th>Event</th><th>Status</th><th>Attempts</th><th>Last answer</th><th>Delivered</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {page.data.items.map((d) => (
              <tr key={d.id}>
                <td>{when(d.createdAt)}</td>
                <td>{d.eventType}</td>
                <td><StatusBadge status={d.status} /></td>
                <td>{d.attempts}{d.nextAttemptAt ? ` (next ${when(d.nextAttemptAt)})` : ''}</td>
                <td>{d.lastStatusCode ?? '—'} {d.lastError ?? ''}</td>
                <td>{when(d.deliveredAt)}</td>
                <td>{writable && d.status === 'failed' ? <button type="button" onClick={() => void redeliver(d)}>Redeliver</button> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager page={page.data} pager={pager} />
    </div>
  );
}

function Create({ orgId, onCreated }: { orgId: string; onCreated: () => void }): JSX.Element {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('https://');
  const [events, setEvents] = useState<string[]>(['device.enrolled']);
  const [secret, setSecret] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      const w = await post<Webhook & { secret: string }>('/api/v1/webhooks', { orgId, name: name.trim(), url: url.trim(), events });
      setSecret(w.secret);
      setName('');
      onCreated();
    });
  };
  return (
    <>
      {secret ? <SecretOnce label="Webhook signing secret" value={secret} onDone={() => setSecret(null)} /> : null}
      <form class="card" aria-label="New webhook" onSubmit={(e) => void submit(e)}>
        <h2>New webhook</h2>
        <div class="row">
          <Field label="Name"><input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
          <Field label="URL" hint="HTTPS; private and loopback addresses are refused"><input type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} /></Field>
        </div>
        <fieldset>
          <legend>Events</legend>
          {EVENTS.map((ev) => (
            <label key={ev} class="check">
              <input type="checkbox" checked={events.includes(ev)} onChange={(e) => setEvents(e.currentTarget.checked ? [...events, ev] : events.filter((x) => x !== ev))} />
              {ev}
            </label>
          ))}
        </fieldset>
        <ErrorBox error={error} />
        <div class="actions"><button type="submit" class="primary" disabled={busy || events.length === 0}>Create webhook</button></div>
      </form>
    </>
  );
}

export function WebhooksPage({ route }: { route: Route }): JSX.Element {
  const me = useMe();
  const orgs = useAsync(() => loadOrgs(me), [me.id]);
  const chosen = route.query.get('orgId');
  const orgId = isUuid(chosen) ? chosen : orgs.data?.[0]?.id;
  const pager = usePager(orgId ?? '');
  const [tick, setTick] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const writable = can(me, 'webhooks:write');
  const page = useAsync(
    () => (orgId ? get<Page<Webhook>>(withQuery('/api/v1/webhooks', { orgId, limit: '20', cursor: pager.cursor })) : Promise.resolve({ items: [] })),
    [orgId, pager.cursor, tick],
  );
  const act = async (fn: () => Promise<unknown>): Promise<void> => {
    setError(null);
    try {
      await fn();
      setTick((t) => t + 1);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section>
      <header class="page-head">
        <h1>Webhooks</h1>
        <Field label="Organization">
          <select value={orgId ?? ''} onChange={(e) => navigate('webhooks', { orgId: e.currentTarget.value })}>
            {(orgs.data ?? []).map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
          </select>
        </Field>
      </header>
      <ErrorBox error={orgs.error ?? page.error ?? error} />
      {writable && orgId ? <Create orgId={orgId} onCreated={() => setTick((t) => t + 1)} /> : null}
      {page.loading && !page.data ? <Loading what="webhooks" /> : null}
      {page.data && page.data.items.length === 0 ? <p class="muted">No webhooks.</p> : null}
      {page.data?.items.map((w) => (
        <article class="card" key={w.id} aria-label={`Webhook ${w.name}`}>
          <header class="page-head">
            <h2>{w.name}</h2>
            <StatusBadge status={w.status} />
            <code>{w.url}</code>
          </header>
          <p>{w.events.join(', ')} · {w.consecutiveFailures} consecutive failure(s){w.disabledReason ? ` · disabled: ${w.disabledReason}` : ''}</p>
          <div class="actions">
            <button type="button" aria-expanded={open === w.id} onClick={() => setOpen(open === w.id ? null : w.id)}>{open === w.id ? 'Hide deliveries' : 'Delivery log'}</button>
            {writable ? (
              <>
                <button type="button" onClick={() => void act(() => post(`/api/v1/webhooks/${seg(w.id)}/test`))}>Send test event</button>
                <button type="button" onClick={() => void act(() => api('PATCH', `/api/v1/webhooks/${seg(w.id)}`, { enabled: w.status !== 'active' }))}>
                  {w.status === 'active' ? 'Disable' : 'Enable'}
                </button>
                <ConfirmButton label="Delete" title={`Delete webhook ${w.name}`} confirmLabel="Delete" danger onConfirm={async () => { await del(`/api/v1/webhooks/${seg(w.id)}`); setTick((t) => t + 1); }}>
                  <p>Deliveries stop and the delivery log of this webhook goes with it.</p>
                </ConfirmButton>
              </>
            ) : null}
          </div>
          {open === w.id ? <Deliveries hook={w} writable={writable} /> : null}
        </article>
      ))}
      <Pager page={page.data} pager={pager} />
    </section>
  );
}
