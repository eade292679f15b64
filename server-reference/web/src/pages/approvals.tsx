// Approvals inbox (SPEC 14): AI tool calls held for a human. Approving or denying needs a
// fresh TOTP code; the server refuses the requester's own approval (four eyes) and this page
// says so before asking. Arguments are shown as JSON text.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { get, post, seg, withQuery } from '../api';
import { when } from '../format';
import type { Me } from '../types';
import { ErrorBox, Field, Loading, StatusBadge, useAction, useAsync } from '../ui';

interface Approval {
  id: string;
  orgId: string;
  tool: string;
  tier: string;
  arguments: unknown;
  argumentsDigest: string;
  deviceId: string | null;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string;
  status: string;
  decidedBy: string | null;
  decidedAt: string | null;
  reason: string | null;
}

const STATUSES = ['pending', 'approved', 'denied', 'executed', 'expired'];

function Decide({ a, me, onDone }: { a: Approval; me: Me; onDone: () => void }): JSX.Element {
  const [code, setCode] = useState('');
  const [reason, setReason] = useState('');
  const { busy, error, run } = useAction();
  if (a.requestedBy === me.id) return <p class="muted">You requested this call: another approver must decide (four eyes).</p>;
  const decide = async (verb: 'approve' | 'deny'): Promise<void> => {
    await run(async () => {
      await post(`/api/v1/approvals/${seg(a.id)}/${verb}`, { code: code.replace(/\s+/g, ''), ...(reason.trim() ? { reason: reason.trim() } : {}) });
      onDone();
    });
    setCode('');
  };
  return (
    <form class="inline-form" aria-label={`Decide ${a.tool}`} onSubmit={(e) => e.preventDefault()}>
      <Field label="Authentication code"><input autocomplete="one-time-code" inputMode="numeric" required value={code} onInput={(e) => setCode(e.currentTarget.value)} /></Field>
      <Field label="Reason"><input maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></Field>
      <button type="button" class="primary" disabled={busy || !code} onClick={() => void decide('approve')}>Approve</button>
      <button type="button" class="danger" disabled={busy || !code} onClick={() => void decide('deny')}>Deny</button>
      <ErrorBox error={error} />
    </form>
  );
}

export function ApprovalsPage({ me }: { me: Me }): JSX.Element {
  const [status, setStatus] = useState('pending');
  const [after, setAfter] = useState<string[]>([]);
  const cursor = after[after.length - 1];
  const page = useAsync(() => get<{ items: Approval[]; nextAfter?: string | null }>(withQuery('/api/v1/approvals', { status, limit: '20', after: cursor })), [status, cursor]);
  return (
    <section>
      <header class="page-head">
        <h1>Approvals</h1>
        <Field label="Status">
          <select value={status} onChange={(e) => { setStatus(e.currentTarget.value); setAfter([]); }}>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </Field>
        <button type="button" onClick={page.reload}>Refresh</button>
      </header>
      <ErrorBox error={page.error} />
      {page.loading && !page.data ? <Loading what="approvals" /> : null}
      {page.data && page.data.items.length === 0 ? <p class="muted">Nothing {status}.</p> : null}
      {page.data?.items.map((a) => (
        <article class="card" key={a.id} aria-label={`Approval ${a.tool}`}>
          <header class="page-head">
            <h2>{a.tool}</h2>
            <StatusBadge status={a.status} />
            <span class="muted">tier {a.tier}</span>
          </header>
          <dl class="facts">
            <dt>Requested</dt><dd>{when(a.requestedAt)} by <code>{a.requestedBy}</code></dd>
            <dt>Expires</dt><dd>{when(a.expiresAt)}</dd>
            {a.deviceId ? (<><dt>Device</dt><dd><code>{a.deviceId}</code></dd></>) : null}
            <dt>Arguments digest</dt><dd><code>{a.argumentsDigest}</code></dd>
            {a.decidedAt ? (<><dt>Decided</dt><dd>{when(a.decidedAt)}{a.decidedBy ? ` by ${a.decidedBy}` : ''}{a.reason ? `: ${a.reason}` : ''}</dd></>) : null}
          </dl>
          <pre>{JSON.stringify(a.arguments, null, 2)}</pre>
          {a.status === 'pending' ? <Decide a={a} me={me} onDone={page.reload} /> : null}
        </article>
      ))}
      <nav class="pager" aria-label="Pagination">
        <button type="button" disabled={after.length === 0} onClick={() => setAfter((s) => s.slice(0, -1))}>← Previous</button>
        <span>Page {after.length + 1}</span>
        <button type="button" disabled={!page.data?.nextAfter} onClick={() => { const n = page.data?.nextAfter; if (n) setAfter((s) => [...s, n]); }}>Next →</button>
      </nav>
    </section>
  );
}
