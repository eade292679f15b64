// In-browser audit chain verification (SPEC 6, 15): downloads the chain's export bundle
// (GET /api/v1/audit/export, streamed with a byte count) and verifies it in a worker with the
// WASM package. The verdict is computed here, not by the server that could have been altered.
import { request, withQuery } from '../api';
import type { VerifyReply, VerifyRequest } from './verify.worker';

export interface BreakInfo {
  kind: string;
  sequence: number | null;
  line: number | null;
  detail: string | null;
}

export interface VerifyReport {
  ok: boolean;
  chain: string | null;
  entries: number;
  first_sequence: number | null;
  last_sequence: number | null;
  checkpoints: number;
  keys_trusted: boolean;
  head_hash: string | null;
  pruned_through: number | null;
  break?: BreakInfo | null;
}

export type Progress =
  | { phase: 'downloading'; received: number; total: number | null }
  | { phase: 'loading-wasm' | 'verifying'; lines: number };

export async function downloadBundle(orgId: string | undefined, onProgress: (p: Progress) => void): Promise<Uint8Array> {
  const res = await request('GET', withQuery('/api/v1/audit/export', { orgId }), undefined, 'application/x-ndjson');
  const total = Number(res.headers.get('content-length')) || null;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress({ phase: 'downloading', received, total });
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function verifyInWorker(bytes: Uint8Array, trustedKeys: unknown, onProgress: (p: Progress) => void): Promise<VerifyReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./verify.worker.ts', import.meta.url), { type: 'module', name: 'audit-verify' });
    const done = (): void => worker.terminate();
    worker.addEventListener('message', (ev: MessageEvent<VerifyReply>) => {
      const m = ev.data;
      if (m.type === 'phase') onProgress({ phase: m.phase, lines: m.lines });
      else if (m.type === 'report') {
        done();
        resolve(m.report as VerifyReport);
      } else {
        done();
        reject(new Error(`${m.code}: ${m.message}`));
      }
    });
    worker.addEventListener('error', (ev) => {
      done();
      reject(new Error(ev.message || 'the verification worker failed'));
    });
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const msg: VerifyRequest = { bytes: buf, trustedKeys };
    worker.postMessage(msg, [buf]);
  });
}
