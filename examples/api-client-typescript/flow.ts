// An integrator's flow against the Breeze API with openapi-fetch, typed by the `paths` that
// openapi-typescript generated from the server's own OpenAPI document (see README.md).
//
//   node dist/flow.js [--base-url URL] [--email E] [--keys trusted_keys.json]
//                     [--wait-checkpoint SECONDS] [--out export.jsonl]
//
// Logs in with the password and a TOTP code, creates a partner, an organization, a site and an
// enrollment key, lists the organization's devices, reads its audit log, exports the audit
// chain and verifies the bundle with the Node binding of Breeze (bindings/node) against the
// trusted checkpoint keys of `breeze-server audit keys --json` (origin, not only integrity).
//
// Settings: the arguments, or BREEZE_BASE_URL, BREEZE_EMAIL, BREEZE_TRUSTED_KEYS; the password
// and the TOTP secret (base32) only from BREEZE_PASSWORD and BREEZE_TOTP_SECRET. The binding
// is loaded from BREEZE_NODE_BINDING (default: the repository's bindings/node/index.js). No
// token, password, secret or enrollment key is ever printed.
//
// Exit status: 0 when every step succeeded and the export verified against the trusted keys,
// 1 when a step failed, 2 on a usage error.

import { createHmac, randomUUID } from 'node:crypto';
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import createClient from 'openapi-fetch';
import type { components, paths } from './generated/schema.js';

type Schemas = components['schemas'];
type ApiError = Schemas['Error'];

/** The report of `auditVerifyBundle` (bindings/node; the same fields in every binding). */
interface BundleReport {
  ok: boolean;
  chain: string | null;
  keys_trusted: boolean;
  entries: number;
  checkpoints: number;
  first_sequence: number | null;
  last_sequence: number | null;
  head_hash: string | null;
  break?: { kind: string; sequence: number | null; line: number; detail: string } | null;
}
interface TrustedKey {
  key_id: string;
  public_key: string;
}
interface BreezeBinding {
  auditVerifyBundle(bundle: Uint8Array, trustedKeys?: TrustedKey[] | null): BundleReport;
}

class FlowError extends Error {}
class UsageError extends Error {}

const step = (text: string): void => console.log(`- ${text}`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The RFC 6238 code (HMAC-SHA-1, 30 s, 6 digits) of a base32 secret at `atMs` (now). */
export function totpNow(secretB32: string, atMs: number = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secretB32.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new UsageError('BREEZE_TOTP_SECRET is not base32');
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const value = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(value % 1_000_000).padStart(6, '0');
}

/** The data of an openapi-fetch answer when it has `status`, else a FlowError naming the
 *  server's error code and message. */
function expect<T>(
  what: string,
  answer: { data?: T; error?: ApiError | unknown; response: Response },
  status: number,
): T {
  const { data, error, response } = answer;
  if (response.status === status && data !== undefined) return data;
  const e = error as Partial<ApiError> | undefined;
  const detail = e && typeof e.error === 'string' ? ` ${e.error}: ${e.message ?? ''}` : '';
  throw new FlowError(`${what}: HTTP ${response.status}${detail}, expected ${status}`);
}

function loadTrustedKeys(path: string): TrustedKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`${path}: ${(e as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { trusted_keys?: unknown } | null)?.trusted_keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new UsageError(`${path}: expected \`breeze-server audit keys --json\` or a non-empty list of keys`);
  }
  return list as TrustedKey[];
}

function loadBinding(): BreezeBinding {
  const require = createRequire(import.meta.url);
  const path =
    process.env.BREEZE_NODE_BINDING ??
    fileURLToPath(new URL('../../../bindings/node/index.js', import.meta.url));
  try {
    return require(path) as BreezeBinding;
  } catch (e) {
    throw new UsageError(`the Node binding at ${path} does not load (scripts/test-bindings builds it): ${(e as Error).message}`);
  }
}

async function logIn(baseUrl: string, email: string, password: string, totpSecret: string | undefined) {
  const anon = createClient<paths>({ baseUrl });
  const login = expect('POST /api/v1/auth/login', await anon.POST('/api/v1/auth/login', { body: { email, password } }), 200);
  let session: Schemas['SessionAnswer'];
  if ('mfaRequired' in login) {
    step(`login: password accepted, second factor due (challenge valid ${login.expiresIn} s)`);
    if (!totpSecret) throw new FlowError('the server asks for a TOTP code and BREEZE_TOTP_SECRET is not set');
    // a code about to expire may arrive in the next window: wait for a fresh one
    if (30_000 - (Date.now() % 30_000) < 2_000) await sleep(2_000);
    session = expect(
      'POST /api/v1/auth/mfa/verify',
      await anon.POST('/api/v1/auth/mfa/verify', { body: { mfaToken: login.mfaToken, code: totpNow(totpSecret) } }),
      200,
    );
    step(`login: TOTP code accepted, session with mfa=${session.mfa}`);
  } else {
    session = login;
    step(`login: session without a second factor (mfa=${session.mfa})`);
  }
  step(`logged in as ${session.user.email} (scope ${session.user.scope}), token expires in ${session.expiresIn} s`);
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${session.accessToken}` } });
}

type Api = Awaited<ReturnType<typeof logIn>>;

async function exportAndVerify(
  api: Api,
  orgId: string,
  keys: TrustedKey[],
  waitCheckpointSecs: number,
  out: string | undefined,
): Promise<void> {
  const breeze = loadBinding();
  const deadline = Date.now() + waitCheckpointSecs * 1000;
  let bundle: Uint8Array;
  let report: BundleReport;
  for (;;) {
    const answer = await api.GET('/api/v1/audit/export', { params: { query: { orgId } }, parseAs: 'arrayBuffer' });
    bundle = new Uint8Array(expect('GET /api/v1/audit/export', answer, 200));
    report = breeze.auditVerifyBundle(bundle, keys);
    if (!report.ok) {
      const b = report.break;
      throw new FlowError(
        `the export does not verify: ${b?.kind} at sequence ${b?.sequence} (bundle line ${b?.line}): ${b?.detail}`,
      );
    }
    if (!report.keys_trusted) throw new FlowError('the export was verified with its own keys, not the trusted ones');
    if (report.checkpoints > 0) break;
    if (Date.now() >= deadline) {
      throw new FlowError(
        'the export holds no signed checkpoint yet, so its origin cannot be proven: the server signs ' +
          'checkpoints every BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS (default 3600); rerun later or pass --wait-checkpoint',
      );
    }
    step("audit export: no signed checkpoint yet, waiting for the server's next checkpoint run");
    await sleep(1000);
  }
  const lines = bundle.reduce((n, byte) => n + (byte === 0x0a ? 1 : 0), 0);
  step(`audit export: ${bundle.length} bytes, ${lines} lines (application/x-ndjson)`);
  if (out) {
    const fd = openSync(out, 'w', 0o600);
    writeSync(fd, bundle);
    closeSync(fd);
    step(`audit export: written to ${out}`);
  }
  const keyIds = [...new Set(keys.map((k) => k.key_id))].sort().join(', ');
  console.log(
    `verified ${report.entries} entries of chain ${report.chain} ` +
      `(sequences ${report.first_sequence}..${report.last_sequence}), ` +
      `${report.checkpoints} checkpoint(s) verified against the trusted keys (${keyIds}); head ${report.head_hash}`,
  );
}

async function run(opts: {
  baseUrl: string;
  email: string;
  password: string;
  totpSecret: string | undefined;
  keys: TrustedKey[];
  waitCheckpoint: number;
  out: string | undefined;
}): Promise<void> {
  const api = await logIn(opts.baseUrl, opts.email, opts.password, opts.totpSecret);
  const runId = randomUUID().slice(0, 8);

  const partner = expect(
    'POST /api/v1/partners',
    await api.POST('/api/v1/partners', { body: { name: `Flow Partner ${runId}` } }),
    201,
  );
  step(`created partner ${partner.id} (${partner.name})`);

  const org = expect(
    'POST /api/v1/orgs',
    await api.POST('/api/v1/orgs', { body: { name: `Flow Org ${runId}`, partnerId: partner.id } }),
    201,
  );
  step(`created organization ${org.id} (${org.name}, status ${org.status}, partner ${org.partnerId})`);

  const site = expect(
    'POST /api/v1/orgs/{orgId}/sites',
    await api.POST('/api/v1/orgs/{orgId}/sites', {
      params: { path: { orgId: org.id } },
      body: { name: 'Head office', timezone: 'Europe/Paris' },
    }),
    201,
  );
  step(`created site ${site.id} (${site.name}, ${site.timezone})`);

  const key = expect(
    'POST /api/v1/orgs/{orgId}/enrollment-keys',
    await api.POST('/api/v1/orgs/{orgId}/enrollment-keys', {
      params: { path: { orgId: org.id } },
      body: { siteId: site.id, name: 'First agents', maxUsage: 5, expiresInMinutes: 60 },
    }),
    201,
  );
  // key.key is the enrollment secret an installer needs: shown once, never printed here
  step(`created enrollment key ${key.id} (${key.name}, up to ${key.maxUsage} uses, expires ${key.expiresAt})`);

  const devices = expect(
    'GET /api/v1/devices',
    await api.GET('/api/v1/devices', { params: { query: { orgId: org.id, limit: 50 } } }),
    200,
  );
  step(`listed devices of the organization: ${devices.items.length} (no agent enrolled yet)`);

  const page = expect(
    'GET /api/v1/audit',
    await api.GET('/api/v1/audit', { params: { query: { orgId: org.id, limit: 50 } } }),
    200,
  );
  const actions = page.items.flatMap((item) => (typeof item.action === 'string' ? [item.action] : []));
  step(`read the audit log of the organization: ${page.items.length} events (${actions.join(', ')})`);

  await exportAndVerify(api, org.id, opts.keys, opts.waitCheckpoint, opts.out);
}

async function main(): Promise<number> {
  const env = process.env;
  let args;
  try {
    args = parseArgs({
      options: {
        'base-url': { type: 'string', default: env.BREEZE_BASE_URL },
        email: { type: 'string', default: env.BREEZE_EMAIL },
        keys: { type: 'string', default: env.BREEZE_TRUSTED_KEYS },
        'wait-checkpoint': { type: 'string', default: '0' },
        out: { type: 'string' },
      },
    }).values;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  const missing = (
    [
      ['--base-url/BREEZE_BASE_URL', args['base-url']],
      ['--email/BREEZE_EMAIL', args.email],
      ['BREEZE_PASSWORD', env.BREEZE_PASSWORD],
      ['--keys/BREEZE_TRUSTED_KEYS', args.keys],
    ] as const
  ).flatMap(([name, value]) => (value ? [] : [name]));
  const waitCheckpoint = Number(args['wait-checkpoint']);
  if (missing.length > 0 || !Number.isFinite(waitCheckpoint) || waitCheckpoint < 0) {
    console.error(missing.length > 0 ? `error: missing ${missing.join(', ')}` : 'error: --wait-checkpoint takes seconds');
    return 2;
  }
  const started = performance.now();
  try {
    await run({
      baseUrl: args['base-url'] ?? '',
      email: args.email ?? '',
      password: env.BREEZE_PASSWORD ?? '',
      totpSecret: env.BREEZE_TOTP_SECRET,
      keys: loadTrustedKeys(args.keys ?? ''),
      waitCheckpoint,
      out: args.out,
    });
  } catch (e) {
    // fetch's own failures (refused, reset, DNS) carry the reason in `cause`
    const cause = (e as Error).cause instanceof Error ? `: ${((e as Error).cause as Error).message}` : '';
    console.error(`error: ${(e as Error).message}${cause}`);
    return e instanceof UsageError ? 2 : 1;
  }
  console.log(`flow complete in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

process.exitCode = await main();
