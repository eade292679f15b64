// One device (SPEC 15): its facts, command history, queue a script and watch its result
// (polled until the command leaves pending/sent), quarantine and decommission behind confirm
// dialogs, and the remote terminal. Script output is agent-supplied: rendered as text in <pre>.
import { Fragment, type JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, post, seg, withQuery } from '../api';
import { ago, when } from '../format';
import { can, useMe } from '../me';
import { href, isUuid } from '../router';
import type { Command, Device, Page } from '../types';
import { ConfirmButton, ErrorBox, Field, Loading, Pager, StatusBadge, useAction, useAsync, usePager } from '../ui';

const LANGUAGES = ['sh', 'bash', 'zsh', 'python', 'powershell', 'cmd'];
const POLL_MS = 1000;
const POLL_LIMIT_MS = 10 * 60 * 1000;

const pendingStatus = (s: string): boolean => s === 'pending' || s === 'sent';

function CommandResult({ c }: { c: Command }): JSX.Element {
  return (
    <div class="command-result" data-testid="command-result" data-status={c.status}>
      <p>
        <StatusBadge status={c.status} /> {c.exitCode !== null ? `exit ${c.exitCode}` : ''}{' '}
        {c.durationMs !== null ? `in ${c.durationMs} ms` : ''} {c.completedAt ? `· ${when(c.completedAt)}` : ''}
      </p>
      {c.error ? <p class="error">{c.error}</p> : null}
      {c.stdout ? (<><h4>stdout</h4><pre data-testid="stdout">{c.stdout}</pre></>) : null}
      {c.stderr ? (<><h4>stderr</h4><pre>{c.stderr}</pre></>) : null}
    </div>
  );
}

function QueueScript({ device, onQueued }: { device: Device; onQueued: () => void }): JSX.Element {
  const [content, setContent] = useState('uname -a');
  const [language, setLanguage] = useState(device.osType === 'windows' ? 'powershell' : 'sh');
  const [timeout, setTimeoutSecs] = useState('60');
  const { busy, error, setError, run } = useAction();
  const [watched, setWatched] = useState<Command | null>(null);

  // poll the queued command until it is final (or ten minutes pass)
  useEffect(() => {
    if (!watched || !pendingStatus(watched.status)) return;
    const started = Date.now();
    let stop = false;
    const timer = window.setInterval(() => {
      if (Date.now() - started > POLL_LIMIT_MS) {
        window.clearInterval(timer);
        return;
      }
      get<Command>(`/api/v1/devices/${seg(device.id)}/commands/${seg(watched.id)}`).then(
        (c) => {
          if (stop) return;
          if (!pendingStatus(c.status)) {
            window.clearInterval(timer);
            onQueued();
          }
          setWatched(c);
        },
        (e: unknown) => {
          if (stop) return;
          window.clearInterval(timer);
          setError(e);
        },
      );
    }, POLL_MS);
    return () => {
      stop = true;
      window.clearInterval(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [watched?.id, watched && pendingStatus(watched.status)]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      const q = await post<{ id: string; status: string; type: string }>(`/api/v1/devices/${seg(device.id)}/commands`, {
        type: 'run_script',
        payload: { content, language, timeoutSeconds: Number(timeout) },
      });
      setWatched({
        id: q.id, deviceId: device.id, type: q.type, status: q.status, createdBy: null, createdAt: null, sentAt: null,
        completedAt: null, exitCode: null, stdout: null, stderr: null, durationMs: null, error: null,
      });
      onQueued();
    });
  };

  return (
    <section aria-label="Run a script">
      <h2>Run a script</h2>
      <form onSubmit={(e) => void submit(e)}>
        <Field label="Script">
          <textarea name="script" rows={4} required spellcheck={false} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
        </Field>
        <div class="row">
          <Field label="Language">
            <select value={language} onChange={(e) => setLanguage(e.currentTarget.value)}>
              {LANGUAGES.map((l) => <option key={l} value={l}>{l}</option>)}
            </select>
          </Field>
          <Field label="Timeout (seconds)">
            <input type="number" min={1} max={3600} value={timeout} onInput={(e) => setTimeoutSecs(e.currentTarget.value)} />
          </Field>
        </div>
        <ErrorBox error={error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || device.status === 'quarantined' || device.status === 'decommissioned'}>
            {busy ? 'Queueing…' : 'Queue script'}
          </button>
        </div>
      </form>
      {watched ? (
        pendingStatus(watched.status) ? (
          <p role="status" class="loading">Command {watched.id.slice(0, 8)} is {watched.status}: waiting for the agent…</p>
        ) : (
          <CommandResult c={watched} />
        )
      ) : null}
    </section>
  );
}

function History({ deviceId, tick }: { deviceId: string; tick: number }): JSX.Element {
  const pager = usePager(deviceId);
  const [open, setOpen] = useState<string | null>(null);
  const page = useAsync(
    () => get<Page<Command>>(withQuery(`/api/v1/devices/${seg(deviceId)}/commands`, { limit: '10', cursor: pager.cursor })),
    [deviceId, pager.cursor, tick],
  );
  return (
    <section aria-label="Command history">
      <h2>Command history</h2>
      <ErrorBox error={page.error} />
      {page.loading && !page.data ? <Loading what="commands" /> : null}
      {page.data && page.data.items.length === 0 ? <p class="muted">No commands yet.</p> : null}
      {page.data && page.data.items.length > 0 ? (
        <table>
          <thead><tr><th>Queued</th><th>Type</th><th>Status</th><th>Exit</th><th><span class="sr-only">Output</span></th></tr></thead>
          <tbody>
            {page.data.items.map((c) => (
              <Fragment key={c.id}>
                <tr>
                  <td>{when(c.createdAt)}</td>
                  <td>{c.type}</td>
                  <td><StatusBadge status={c.status} /></td>
                  <td>{c.exitCode ?? '—'}</td>
                  <td>
                    <button type="button" aria-expanded={open === c.id} onClick={() => setOpen(open === c.id ? null : c.id)}>
                      {open === c.id ? 'Hide output' : 'Show output'}
                    </button>
                  </td>
                </tr>
                {open === c.id ? (
                  <tr><td colSpan={5}><CommandResult c={c} /></td></tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager page={page.data} pager={pager} />
    </section>
  );
}

export function DevicePage({ id }: { id: string }): JSX.Element {
  const me = useMe();
  const [tick, setTick] = useState(0);
  const device = useAsync(() => (isUuid(id) ? get<Device>(`/api/v1/devices/${seg(id)}`) : Promise.reject(new Error('not a device id'))), [id]);
  if (device.loading && !device.data) return <Loading what="device" />;
  if (!device.data) return <ErrorBox error={device.error} />;
  const d = device.data;
  const live = d.status !== 'decommissioned';
  return (
    <section>
      <p><a href={href('devices')}>← Devices</a></p>
      <header class="page-head">
        <h1 data-testid="device-name">{d.displayName ?? d.hostname}</h1>
        <StatusBadge status={d.status} />
      </header>
      <ErrorBox error={device.error} />
      <div class="actions">
        {can(me, 'remote:access') && d.status === 'online' ? <a class="button" href={href(`terminal/${d.id}`)}>Open terminal</a> : null}
        {can(me, 'devices:write') ? (
          <ConfirmButton label="Quarantine" title={`Quarantine ${d.hostname}`} confirmLabel="Quarantine" danger disabled={d.status === 'quarantined' || !live}
            onConfirm={async () => { await post(`/api/v1/devices/${seg(d.id)}/quarantine`); device.reload(); }}>
            <p>The device is cut off: no commands or remote sessions until an operator lifts the quarantine. The action is audited.</p>
          </ConfirmButton>
        ) : null}
        {can(me, 'devices:delete') ? (
          <ConfirmButton label="Decommission" title={`Decommission ${d.hostname}`} confirmLabel="Decommission for good" danger disabled={!live}
            onConfirm={async () => { await post(`/api/v1/devices/${seg(d.id)}/decommission`); device.reload(); }}>
            <p><strong>This cannot be undone.</strong> The agent's credentials are revoked and the device leaves the fleet.</p>
          </ConfirmButton>
        ) : null}
      </div>
      <dl class="facts" aria-label="Facts">
        <dt>Hostname</dt><dd>{d.hostname}</dd>
        <dt>Display name</dt><dd>{d.displayName ?? '—'}</dd>
        <dt>Operating system</dt><dd>{d.osType} {d.osVersion} ({d.architecture})</dd>
        <dt>Agent</dt><dd>{d.agentVersion} · <code>{d.agentId}</code></dd>
        <dt>Last seen</dt><dd>{ago(d.lastSeenAt)} ({when(d.lastSeenAt)})</dd>
        <dt>Enrolled</dt><dd>{when(d.enrolledAt)}</dd>
        <dt>Organization</dt><dd><code>{d.orgId}</code></dd>
        <dt>Site</dt><dd><code>{d.siteId}</code></dd>
        <dt>Device id</dt><dd><code>{d.id}</code></dd>
      </dl>
      {can(me, 'devices:execute') ? <QueueScript device={d} onQueued={() => setTick((t) => t + 1)} /> : null}
      <History deviceId={d.id} tick={tick} />
    </section>
  );
}
