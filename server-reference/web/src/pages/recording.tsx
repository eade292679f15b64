// Recording replay (SPEC 12): the server decrypts the transcript and checks it against the
// digest sealed in the audit chain before answering; this page recomputes the SHA-256 of the
// bytes it received and compares it with the digest the server names, then replays the
// output events (asciicast v2) into a read-only terminal.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { request, seg } from '../api';
import { bytes as fmtBytes } from '../format';
import { href, isUuid } from '../router';
import { makeTerminal } from '../terminal/term';
import { ErrorBox, Loading } from '../ui';

type Event = [number, string, string];

interface Loaded {
  width: number;
  height: number;
  events: Event[];
  size: number;
  sha256: string;
  claimed: string | null;
  truncated: boolean;
}

async function load(id: string): Promise<Loaded> {
  const res = await request('GET', `/api/v1/remote-sessions/${seg(id)}/recording`, undefined, 'application/x-asciicast');
  const buf = await res.arrayBuffer();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  const lines = new TextDecoder().decode(buf).split('\n').filter(Boolean);
  const header = JSON.parse(lines[0] ?? '{}') as { width?: unknown; height?: unknown };
  const events: Event[] = [];
  for (const line of lines.slice(1)) {
    const v: unknown = JSON.parse(line);
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string' && typeof v[2] === 'string') {
      events.push([v[0], v[1], v[2]]);
    }
  }
  return {
    width: typeof header.width === 'number' ? header.width : 80,
    height: typeof header.height === 'number' ? header.height : 24,
    events,
    size: buf.byteLength,
    sha256,
    claimed: res.headers.get('x-transcript-sha256'),
    truncated: res.headers.get('x-transcript-truncated') === 'true',
  };
}

export function RecordingPage({ id }: { id: string }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const [rec, setRec] = useState<Loaded | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [speed, setSpeed] = useState(2);
  const [run, setRun] = useState(0);

  useEffect(() => {
    if (!isUuid(id)) {
      setError(new Error('not a session id'));
      return;
    }
    load(id).then(setRec, setError);
  }, [id]);

  useEffect(() => {
    if (!rec || !box.current || run === 0) return;
    const term = makeTerminal(true);
    term.open(box.current);
    term.resize(Math.min(300, rec.width), Math.min(100, rec.height));
    let i = 0;
    let timer: number | undefined;
    const step = (): void => {
      const e = rec.events[i];
      if (!e) return;
      if (e[1] === 'o') term.write(e[2]);
      else if (e[1] === 'r') {
        const m = /^(\d+)x(\d+)$/.exec(e[2]);
        if (m) term.resize(Math.min(300, Number(m[1])), Math.min(100, Number(m[2])));
      }
      i += 1;
      const next = rec.events[i];
      if (next) timer = window.setTimeout(step, Math.min(2000, Math.max(0, (next[0] - e[0]) * 1000)) / speed);
    };
    step();
    return () => {
      window.clearTimeout(timer);
      term.dispose();
    };
  }, [rec, run]);

  if (error) return <ErrorBox error={error} />;
  if (!rec) return <Loading what="the recording" />;
  const matches = rec.claimed !== null && rec.claimed.toLowerCase() === rec.sha256;
  return (
    <section class="terminal-page">
      <p><a href={href('audit', { action: 'remote.session.ended' })}>← Audit</a></p>
      <header class="page-head"><h1>Session recording</h1></header>
      <div class={`verdict ${matches ? 'ok' : 'broken'}`} role="status">
        {matches ? 'Digest verified' : 'Digest MISMATCH'}: SHA-256 of the {fmtBytes(rec.size)} received is <code>{rec.sha256}</code>
        {matches ? ', the digest sealed in the audit chain.' : `; the server named ${rec.claimed ?? 'none'}.`}
        {rec.truncated ? ' The recording was truncated at its cap.' : ''}
      </div>
      <div class="actions">
        <label class="field inline">
          <span>Speed</span>
          <select value={String(speed)} onChange={(e) => setSpeed(Number(e.currentTarget.value))}>
            {[1, 2, 4, 16].map((s) => <option key={s} value={String(s)}>{s}×</option>)}
          </select>
        </label>
        <button type="button" class="primary" onClick={() => setRun((r) => r + 1)}>{run ? 'Replay' : 'Play'}</button>
        <span>{rec.events.filter((e) => e[1] === 'o').length} output events</span>
      </div>
      <div class="terminal-box" ref={box} />
    </section>
  );
}
