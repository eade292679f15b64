// Verifies an audit export bundle off the main thread with Breeze's WASM package
// (bindings/wasm, the same verifier as the Rust, Python and Node libraries). Input: the
// bundle bytes (transferred) and optional trusted keys; output: the library's report.
import init, { auditVerifyBundle } from '../../../../bindings/wasm/pkg-web/breeze_wasm.js';

export type VerifyRequest = { bytes: ArrayBuffer; trustedKeys: unknown };
export type VerifyReply =
  | { type: 'phase'; phase: 'loading-wasm' | 'verifying'; lines: number }
  | { type: 'report'; report: unknown }
  | { type: 'error'; code: string; message: string };

let ready: Promise<unknown> | null = null;

function reply(m: VerifyReply): void {
  (self as unknown as Worker).postMessage(m);
}

function countLines(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) if (b === 0x0a) n += 1;
  return bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a ? n + 1 : n;
}

self.addEventListener('message', (ev: MessageEvent<VerifyRequest>) => {
  void (async () => {
    const bytes = new Uint8Array(ev.data.bytes);
    const lines = countLines(bytes);
    try {
      reply({ type: 'phase', phase: 'loading-wasm', lines });
      ready ??= init();
      await ready;
      reply({ type: 'phase', phase: 'verifying', lines });
      reply({ type: 'report', report: auditVerifyBundle(bytes, ev.data.trustedKeys ?? null, null) });
    } catch (e) {
      const err = e as { code?: unknown; message?: unknown };
      reply({
        type: 'error',
        code: typeof err.code === 'string' ? err.code : 'verify_failed',
        message: typeof err.message === 'string' ? err.message : String(e),
      });
    }
  })();
});
