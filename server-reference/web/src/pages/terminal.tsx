// Remote terminal (SPEC 12, 15): creates a session, asks for a one-time ticket and opens the
// relay socket offering `breeze.terminal.v1` and `breeze.ticket.<t>` as subprotocols — the
// ticket never appears in a URL. Output is written to xterm.js (text rendering only).
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post, seg } from '../api';
import { can, useMe } from '../me';
import { href, isUuid } from '../router';
import { base64Bytes, fitSize, makeTerminal } from '../terminal/term';
import type { RemoteSession, Ticket } from '../types';
import { ErrorBox } from '../ui';

// input frames are at most 16 KiB on the wire (SPEC 12): 2048 UTF-16 units stay under it even
// when every one is a 4-byte character or a 6-byte JSON escape
const INPUT_CHUNK = 2048;

type Phase = 'connecting' | 'open' | 'closed';

interface ServerFrame {
  type?: unknown;
  data?: unknown;
  encoding?: unknown;
  code?: unknown;
  message?: unknown;
}

export function TerminalPage({ id }: { id: string }): JSX.Element {
  const me = useMe();
  const box = useRef<HTMLDivElement>(null);
  const [phase, setPhase] = useState<Phase>('connecting');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [ended, setEnded] = useState<RemoteSession | null>(null);
  const socket = useRef<WebSocket | null>(null);

  useEffect(() => {
    if (!box.current || !isUuid(id)) {
      setError(new Error('not a device id'));
      return;
    }
    const el = box.current;
    const term = makeTerminal(false);
    term.open(el);
    let ws: WebSocket | null = null;
    let disposed = false;
    const send = (frame: object): void => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
    };
    const onResize = (): void => {
      const { cols, rows } = fitSize(term, el);
      if (cols !== term.cols || rows !== term.rows) {
        term.resize(cols, rows);
        send({ type: 'resize', cols, rows });
      }
    };
    const { cols, rows } = fitSize(term, el);
    term.resize(cols, rows);

    void (async () => {
      try {
        const session = await post<RemoteSession>(`/api/v1/devices/${seg(id)}/remote-sessions`, { type: 'terminal', cols, rows });
        if (disposed) return;
        const ticket = await post<Ticket>(`/api/v1/remote-sessions/${seg(session.id)}/ticket`);
        if (disposed) return;
        const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
        ws = new WebSocket(`${scheme}://${location.host}/api/v1/remote-sessions/${seg(session.id)}/ws`, ticket.protocols);
        socket.current = ws;
        ws.addEventListener('open', () => {
          setPhase('open');
          setStatus('Connected.');
          term.focus();
        });
        ws.addEventListener('message', (ev: MessageEvent) => {
          if (typeof ev.data !== 'string') return;
          let f: ServerFrame;
          try {
            f = JSON.parse(ev.data) as ServerFrame;
          } catch {
            return;
          }
          if (f.type === 'output' && typeof f.data === 'string') {
            term.write(f.encoding === 'base64' ? base64Bytes(f.data) : f.data);
          } else if (f.type === 'exit') {
            term.write(`\r\n[the shell exited${typeof f.code === 'number' ? ` with code ${f.code}` : ''}]\r\n`);
          } else if (f.type === 'notice' && typeof f.message === 'string') {
            setStatus(`${typeof f.code === 'string' ? f.code : 'notice'}: ${f.message}`);
          }
        });
        ws.addEventListener('close', (ev: CloseEvent) => {
          setPhase('closed');
          setStatus(`Disconnected (${ev.code}${ev.reason ? ` ${ev.reason}` : ''}).`);
          void awaitEnd(session.id);
        });
      } catch (e) {
        setError(e);
        setPhase('closed');
      }
    })();

    // the server seals the transcript's digest in the audit chain as the session ends; the
    // recording is offered once the session says `ended`
    const awaitEnd = async (sid: string): Promise<void> => {
      for (let i = 0; i < 40 && !disposed; i += 1) {
        const s = await get<RemoteSession>(`/api/v1/remote-sessions/${seg(sid)}`).catch(() => null);
        if (s && s.status === 'ended') {
          if (!disposed) setEnded(s);
          return;
        }
        await new Promise((r) => window.setTimeout(r, 500));
      }
    };

    const input = term.onData((data) => {
      for (let i = 0; i < data.length; i += INPUT_CHUNK) send({ type: 'input', data: data.slice(i, i + INPUT_CHUNK) });
    });
    let timer: number | undefined;
    const resized = (): void => {
      window.clearTimeout(timer);
      timer = window.setTimeout(onResize, 150);
    };
    window.addEventListener('resize', resized);
    return () => {
      disposed = true;
      window.removeEventListener('resize', resized);
      window.clearTimeout(timer);
      input.dispose();
      send({ type: 'stop' });
      ws?.close(1000, 'browser_closed');
      term.dispose();
    };
  }, [id]);

  const stop = (): void => {
    const ws = socket.current;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: 'stop' }));
      ws.close(1000, 'browser_closed');
    }
  };

  return (
    <section class="terminal-page">
      <p><a href={href(`devices/${id}`)}>← Device</a></p>
      <header class="page-head">
        <h1>Terminal</h1>
        <span role="status" data-testid="terminal-status">{phase === 'connecting' ? 'Connecting…' : status}</span>
        <button type="button" onClick={stop} disabled={phase !== 'open'}>End session</button>
        {ended && can(me, 'audit:read') ? <a class="button" href={href(`recordings/${ended.id}`)}>Recording</a> : null}
      </header>
      {ended ? (
        <p role="status">
          Session ended ({ended.endReason ?? 'closed'}): {ended.bytesIn} bytes in, {ended.bytesOut} bytes out
          {ended.transcriptSha256 ? <>, transcript SHA-256 <code>{ended.transcriptSha256}</code></> : null}
          {ended.truncated ? ', recording truncated at its cap' : ''}.
        </p>
      ) : null}
      <ErrorBox error={error} />
      <p class="muted">Everything typed and shown is recorded, encrypted, and its digest sealed in the audit chain.</p>
      <div class="terminal-box" ref={box} data-testid="terminal" />
    </section>
  );
}
