// Audit (SPEC 6, 15): the filtered log with cursor pagination, export of a chain as a
// self-contained bundle, and verification of that bundle IN THIS BROWSER with the WASM
// package: "verified N entries", or the first break with its kind and sequence.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { get, withQuery } from '../api';
import { downloadBundle, type Progress, verifyInWorker, type VerifyReport } from '../audit/verify';
import { bytes as fmtBytes, when } from '../format';
import { can, useMe } from '../me';
import { href, isUuid, navigate, type Route } from '../router';
import { loadOrgs } from '../tenancy';
import type { AuditItem, Page } from '../types';
import { ErrorBox, Field, Loading, Pager, StatusBadge, useAsync, usePager } from '../ui';

const RESULTS = ['success', 'failure', 'denied'];
const PAGE_SIZES = ['10', '25', '50', '100'];

function ProgressView({ p }: { p: Progress }): JSX.Element {
  if (p.phase === 'downloading') {
    return (
      <div role="status" class="progress">
        <label>
          Downloading the export bundle: {fmtBytes(p.received)}{p.total ? ` of ${fmtBytes(p.total)}` : ''}
          {p.total ? <progress max={p.total} value={p.received} /> : <progress />}
        </label>
      </div>
    );
  }
  return (
    <div role="status" class="progress">
      <label>
        {p.phase === 'loading-wasm' ? 'Loading the WASM verifier' : `Verifying ${p.lines} lines with the WASM verifier`}…
        <progress />
      </label>
    </div>
  );
}

function ReportView({ r }: { r: VerifyReport }): JSX.Element {
  if (r.ok) {
    return (
      <div class="verdict ok" role="status" data-testid="verify-result">
        <h3>Verified {r.entries} entries</h3>
        <p>
          Chain <code>{r.chain ?? '—'}</code>, sequences {r.first_sequence ?? '—'}..{r.last_sequence ?? '—'}, {r.checkpoints} signed checkpoint(s),
          head <code>{r.head_hash ?? '—'}</code>{r.pruned_through !== null ? `, pruned through ${r.pruned_through}` : ''}.
        </p>
        <p class="muted">{r.keys_trusted ? 'Checkpoint signatures checked against the keys you supplied.' : "Checkpoint signatures checked against the bundle's own keys (integrity only: supply trusted keys to check its origin)."}</p>
      </div>
    );
  }
  const b = r.break;
  return (
    <div class="verdict broken" role="alert" data-testid="verify-result">
      <h3>Broken: {b?.kind ?? 'unknown'} at sequence {b?.sequence ?? '?'}</h3>
      <dl class="facts">
        <dt>Chain</dt><dd><code>{r.chain ?? '—'}</code></dd>
        <dt>First break</dt><dd data-testid="break-kind">{b?.kind ?? '—'}</dd>
        <dt>Sequence</dt><dd data-testid="break-sequence">{b?.sequence ?? '—'}</dd>
        <dt>Bundle line</dt><dd>{b?.line ?? '—'}</dd>
        <dt>Detail</dt><dd>{b?.detail ?? '—'}</dd>
        <dt>Read before the break</dt><dd>{r.entries} entries, {r.checkpoints} checkpoints</dd>
      </dl>
    </div>
  );
}

function Verify({ orgId, systemChain }: { orgId: string | undefined; systemChain: boolean }): JSX.Element {
  const [progress, setProgress] = useState<Progress | null>(null);
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [keysText, setKeysText] = useState('');
  const [lastBundle, setLastBundle] = useState<Uint8Array | null>(null);

  const trustedKeys = (): unknown => {
    if (!keysText.trim()) return null;
    const doc: unknown = JSON.parse(keysText);
    if (Array.isArray(doc)) return doc;
    if (doc && typeof doc === 'object' && 'trusted_keys' in doc) return (doc as { trusted_keys: unknown }).trusted_keys;
    throw new Error('trusted keys: expected a JSON list of {key_id, public_key} or the output of `breeze-server audit keys --json`');
  };

  const verify = async (): Promise<void> => {
    setReport(null);
    setError(null);
    try {
      const keys = trustedKeys();
      setProgress({ phase: 'downloading', received: 0, total: null });
      const bundle = await downloadBundle(orgId, setProgress);
      setLastBundle(bundle);
      setReport(await verifyInWorker(bundle, keys, setProgress));
    } catch (e) {
      setError(e);
    } finally {
      setProgress(null);
    }
  };

  const save = (): void => {
    if (!lastBundle) return;
    const url = URL.createObjectURL(new Blob([lastBundle as BlobPart], { type: 'application/x-ndjson' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `audit-${orgId ?? 'system'}.jsonl`;
    a.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <section class="card" aria-label="Verify the chain">
      <h2>Verify the chain in this browser</h2>
      <p class="muted">
        Downloads the {orgId ? 'organization' : systemChain ? 'system' : 'organization'} chain's export bundle and checks every link, sequence number and signed
        checkpoint here, with Breeze's WebAssembly verifier. The server's own opinion is not used.
      </p>
      <details>
        <summary>Trusted checkpoint keys (optional)</summary>
        <Field label="Keys (JSON)" hint="[{&quot;key_id&quot;, &quot;public_key&quot;}] or the output of `breeze-server audit keys --json`">
          <textarea rows={3} spellcheck={false} value={keysText} onInput={(e) => setKeysText(e.currentTarget.value)} />
        </Field>
      </details>
      <div class="actions">
        <button type="button" class="primary" disabled={progress !== null} onClick={() => void verify()}>
          Export and verify
        </button>
        <button type="button" disabled={!lastBundle} onClick={save}>Save the bundle</button>
      </div>
      {progress ? <ProgressView p={progress} /> : null}
      <ErrorBox error={error} />
      {report ? <ReportView r={report} /> : null}
    </section>
  );
}

export function AuditPage({ route }: { route: Route }): JSX.Element {
  const me = useMe();
  const q = route.query;
  const filters = {
    orgId: isUuid(q.get('orgId')) ? q.get('orgId') ?? undefined : undefined,
    action: q.get('action') || undefined,
    resource: q.get('resource') || undefined,
    actor: q.get('actor') || undefined,
    result: RESULTS.includes(q.get('result') ?? '') ? q.get('result') ?? undefined : undefined,
    limit: PAGE_SIZES.includes(q.get('limit') ?? '') ? q.get('limit') ?? undefined : undefined,
  };
  const [draft, setDraft] = useState(filters);
  const pager = usePager(JSON.stringify(filters));
  const orgs = useAsync(() => loadOrgs(me), [me.id]);
  const page = useAsync(
    () => get<Page<AuditItem>>(withQuery('/api/v1/audit', { ...filters, limit: filters.limit ?? '50', cursor: pager.cursor })),
    [JSON.stringify(filters), pager.cursor],
  );
  const verifyOrg = filters.orgId ?? (me.scope === 'system' ? undefined : me.orgId ?? orgs.data?.[0]?.id);

  return (
    <section>
      <header class="page-head"><h1>Audit log</h1></header>
      <form class="filters" aria-label="Filters" onSubmit={(e) => { e.preventDefault(); navigate('audit', draft); }}>
        <Field label="Organization">
          <select value={draft.orgId ?? ''} onChange={(e) => setDraft({ ...draft, orgId: e.currentTarget.value || undefined })}>
            <option value="">{me.scope === 'system' ? 'All chains' : 'All in reach'}</option>
            {(orgs.data ?? []).map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
          </select>
        </Field>
        <Field label="Action" hint="exact, or a prefix like device.*">
          <input value={draft.action ?? ''} onInput={(e) => setDraft({ ...draft, action: e.currentTarget.value || undefined })} />
        </Field>
        <Field label="Resource type"><input value={draft.resource ?? ''} onInput={(e) => setDraft({ ...draft, resource: e.currentTarget.value || undefined })} /></Field>
        <Field label="Actor" hint="id or user, api_key, agent, system"><input value={draft.actor ?? ''} onInput={(e) => setDraft({ ...draft, actor: e.currentTarget.value || undefined })} /></Field>
        <Field label="Result">
          <select value={draft.result ?? ''} onChange={(e) => setDraft({ ...draft, result: e.currentTarget.value || undefined })}>
            <option value="">Any</option>
            {RESULTS.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </Field>
        <Field label="Per page">
          <select value={draft.limit ?? '50'} onChange={(e) => setDraft({ ...draft, limit: e.currentTarget.value })}>
            {PAGE_SIZES.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </Field>
        <button type="submit" class="primary">Apply</button>
      </form>
      {can(me, 'audit:export') ? <Verify orgId={verifyOrg} systemChain={me.scope === 'system'} /> : null}
      <ErrorBox error={page.error} />
      {page.loading && !page.data ? <Loading what="audit events" /> : null}
      {page.data ? (
        page.data.items.length === 0 ? <p class="muted">No events match.</p> : (
          <table class="audit">
            <thead><tr><th>Time (UTC)</th><th>Seq</th><th>Actor</th><th>Action</th><th>Resource</th><th>Result</th><th>Address</th><th>Details</th></tr></thead>
            <tbody>
              {page.data.items.map((a) => (
                <tr key={`${a.chain}:${a.seq}`}>
                  <td>{when(a.timestamp)}</td>
                  <td title={a.chain}>{a.seq}</td>
                  <td>{a.actorType ?? '—'}{a.actorId ? ` ${a.actorId.slice(0, 8)}` : ''}</td>
                  <td>{a.kind === 'retention' ? 'retention' : a.action}</td>
                  <td>
                    {a.resourceType ?? ''} {a.resourceId ? <code>{a.resourceId.length > 13 ? `${a.resourceId.slice(0, 13)}…` : a.resourceId}</code> : null}
                    {a.action === 'remote.session.ended' && a.resourceId && isUuid(a.resourceId) && can(me, 'audit:read') ? (
                      <> <a href={href(`recordings/${a.resourceId}`)}>Replay</a></>
                    ) : null}
                  </td>
                  <td>{a.result ? <StatusBadge status={a.result} /> : '—'}</td>
                  <td>{a.ip ?? '—'}</td>
                  <td>
                    <details>
                      <summary>Show</summary>
                      <pre>{JSON.stringify(a.details, null, 2)}</pre>
                      {a.errorMessage ? <p class="error">{a.errorMessage}</p> : null}
                      {a.userAgent ? <p class="ua">{a.userAgent}</p> : null}
                    </details>
                  </td>
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
