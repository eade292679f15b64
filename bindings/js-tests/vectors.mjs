// Loads the repository's shared vectors; a missing, empty or untracked file fails loudly.
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const VECTORS = path.join(ROOT, 'vectors');

// Every vector file this suite replays (the pytest suite replays the same list).
export const REPLAYED = [
  'crypto/breeze_generated.json',
  'crypto/jwt_jose.json',
  'crypto/envelope_node.json',
  'crypto/argon2_cffi.json',
  'crypto/rfc6238_totp.json',
  'crypto/interop/inputs.json',
  'crypto/httpsig.json',
  'crypto/httpsig_http_message_signatures.json',
  'authz/permissions.json',
  'authz/scopes.json',
  'authz/risk.json',
  'authz/mfa.json',
  'authz/session.json',
  'authz/approvals.json',
  'audit/canonical.json',
  'audit/chain.json',
  'audit/tampered.json',
  'audit/sanitize.json',
  'audit/stream.json',
  'agent-proto/text.json',
  'agent-proto/binary.json',
  'agent-proto/redact.json',
  'agent-proto/remote_path.json',
  'agent-proto/file_content.json',
  'webhooks/signatures.json',
  'webhooks/payloads.json',
];

const cache = new Map();

export function load(rel) {
  if (!cache.has(rel)) {
    const file = path.join(VECTORS, rel);
    let size = 0;
    try { size = statSync(file).size; } catch { size = 0; }
    if (size === 0) {
      throw new Error(`vector file vectors/${rel} is missing or empty: regenerate it (see docs/CONVENTIONS.md)`);
    }
    cache.set(rel, JSON.parse(readFileSync(file, 'utf8')));
  }
  return structuredClone(cache.get(rel));
}

export function schemaFiles() {
  const dir = path.join(VECTORS, 'agent-proto', 'schemas');
  const files = readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort();
  if (files.length === 0) throw new Error('vectors/agent-proto/schemas/*.schema.json are missing');
  return files.map((f) => ({ kind: f.slice(0, -'.schema.json'.length), schema: JSON.parse(readFileSync(path.join(dir, f), 'utf8')) }));
}

/** The subset of relPaths git does not track (empty outside a git checkout). */
export function untracked(relPaths) {
  let out;
  try {
    out = execFileSync('git', ['ls-files', '--', ...relPaths.map((p) => `vectors/${p}`)], { cwd: ROOT, encoding: 'utf8' });
  } catch {
    return [];
  }
  const listed = new Set(out.split('\n').filter(Boolean));
  return relPaths.filter((p) => !listed.has(`vectors/${p}`));
}
