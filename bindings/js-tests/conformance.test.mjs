// The conformance suite: replays the shared vectors under vectors/ through the package chosen
// by BREEZE_BACKEND (napi or wasm). The pytest suite (bindings/python/tests) makes the same
// checks; a vector any language disagrees with fails its build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { breeze, backendName } from './backend.mjs';
import { REPLAYED, load, schemaFiles, untracked } from './vectors.mjs';

/** Asserts `fn` throws an Error whose `code` is `code`. */
function throwsCode(fn, code, note) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, `${note ?? ''}: not an Error: ${e}`);
    assert.equal(e.code, code, `${note ?? ''}: ${e.message}`);
    return true;
  });
}

const enc = new TextEncoder();
const hexToBytes = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

test(`[${backendName}] vector files are present and tracked`, () => {
  for (const rel of REPLAYED) assert.ok(load(rel), rel);
  assert.deepEqual(untracked(REPLAYED), [], 'vector files not checked in');
});

// ---------------------------------------------------------------- crypto

const inputs = () => load('crypto/interop/inputs.json');
function envelopeRing() {
  const e = inputs().envelope;
  return { keys: e.keys, active: Object.keys(e.keys).sort()[0], legacyKey: e.legacyKey };
}
function jwtRing(active) {
  const j = inputs().jwt;
  return { keys: j.keys, active, legacySecret: j.legacySecret };
}

test(`[${backendName}] argon2 (breeze generated)`, () => {
  const cases = load('crypto/breeze_generated.json').argon2;
  assert.ok(cases.length);
  for (const c of cases) {
    assert.equal(breeze.passwordHashWithSalt(c.password, c.salt), c.phc);
    assert.equal(breeze.passwordVerify(c.password, c.phc), true);
    assert.equal(breeze.passwordVerify(c.password + 'x', c.phc), false);
    assert.equal(breeze.passwordNeedsRehash(c.phc), false);
  }
});

test(`[${backendName}] argon2 (argon2-cffi)`, () => {
  const cases = load('crypto/argon2_cffi.json').hashes;
  assert.ok(cases.length);
  for (const c of cases) {
    assert.equal(breeze.passwordVerify(c.password, c.phc), true);
    assert.equal(breeze.passwordNeedsRehash(c.phc), c.needsRehash);
  }
});

test(`[${backendName}] password errors and policy`, () => {
  throwsCode(() => breeze.passwordVerify('x', '$argon2id$v=19$garbage'), 'password_hash_malformed');
  assert.deepEqual(breeze.passwordPolicyCheck('Correct-Horse-9'), []);
  assert.ok(breeze.passwordPolicyCheck('abcdefghijkL').includes('password_missing_digit'));
  const phc = breeze.passwordHash('Correct-Horse-9');
  assert.equal(breeze.passwordVerify('Correct-Horse-9', phc), true);
});

const CREDENTIAL_KIND = { api_key_legacy: 'api_key' };

test(`[${backendName}] credentials`, () => {
  const cases = load('crypto/breeze_generated.json').credentials;
  assert.ok(cases.length >= 7);
  for (const c of cases) {
    const kind = CREDENTIAL_KIND[c.kind] ?? c.kind;
    if (c.sha256) {
      assert.equal(breeze.credentialHash(kind, c.raw), c.sha256, JSON.stringify(c));
      assert.equal(breeze.credentialVerify(kind, c.raw, c.sha256), true);
      const flipped = (c.sha256[0] !== '0' ? '0' : '1') + c.sha256.slice(1);
      assert.equal(breeze.credentialVerify(kind, c.raw, flipped), false);
    }
    if (c.pepperedSha256) {
      assert.equal(breeze.credentialPepperedHash(kind, c.pepper, c.raw), c.pepperedSha256, JSON.stringify(c));
      assert.equal(breeze.credentialVerifyPeppered(kind, c.pepper, c.raw, c.pepperedSha256), true);
      assert.equal(breeze.credentialVerifyPeppered(kind, c.pepper + 'x', c.raw, c.pepperedSha256), false);
    }
    if (c.normalized) assert.equal(breeze.recoveryCodeNormalize(c.raw), c.normalized);
  }
});

test(`[${backendName}] credential generate and errors`, () => {
  for (const kind of ['agent_token', 'api_key', 'session_token', 'password_reset_token', 'enrollment_key']) {
    const g = breeze.credentialGenerate(kind);
    assert.equal(breeze.credentialVerify(kind, g.value, g.hash), true);
    assert.equal(breeze.credentialHash(kind, g.value), g.hash);
  }
  assert.equal(breeze.credentialGenerate('agent_id').hash, null);
  const codes = breeze.recoveryCodesGenerate();
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  throwsCode(() => breeze.credentialHash('agent_token', 'nope'), 'credential_wrong_prefix');
  throwsCode(() => breeze.credentialGenerate('root_password'), 'invalid_input');
  throwsCode(() => breeze.recoveryCodeNormalize('!!'), 'recovery_code_malformed');
});

function envelopeCases() {
  const gen = load('crypto/breeze_generated.json').envelopes;
  const node = load('crypto/envelope_node.json').values;
  assert.ok(gen.length && node.length);
  return [...gen, ...node];
}

test(`[${backendName}] envelopes`, () => {
  const ring = envelopeRing();
  const e = inputs().envelope;
  for (const c of envelopeCases()) {
    const table = c.table ?? e.table;
    const column = c.column ?? e.column;
    const v = c.value;
    assert.equal(breeze.secretVersion(v), c.version, JSON.stringify(c));
    if (c.version === 'enc:v3') {
      assert.equal(breeze.secretDecrypt(ring, table, column, v), c.plaintext);
      throwsCode(() => breeze.secretDecrypt(ring, table, 'other_column', v), 'authentication_failed');
      assert.deepEqual(breeze.secretReencrypt(ring, table, column, v), { value: v, changed: false });
    } else if (c.version === 'mfa:v1') {
      assert.equal(breeze.mfaDecrypt(e.mfaKey, v), c.plaintext);
    } else {
      throwsCode(() => breeze.secretDecrypt(ring, table, column, v), 'version_not_accepted');
      assert.equal(breeze.secretDecryptForMigration(ring, table, column, v), c.plaintext);
      const moved = breeze.secretReencrypt(ring, table, column, v);
      assert.equal(moved.changed, true);
      assert.equal(breeze.secretDecrypt(ring, table, column, moved.value), c.plaintext);
    }
  }
});

test(`[${backendName}] envelope round trip and errors`, () => {
  const ring = envelopeRing();
  const sealed = breeze.secretEncrypt(ring, 'webhooks', 'secret', 'grüße 🔐');
  assert.equal(breeze.secretDecrypt(ring, 'webhooks', 'secret', sealed), 'grüße 🔐');
  throwsCode(() => breeze.secretDecrypt(ring, 'webhooks', 'secret', 'plaintext'), 'not_an_envelope');
  throwsCode(() => breeze.secretEncrypt({ keys: ring.keys, active: 'nope' }, 't', 'c', 'x'), 'active_key_missing');
  throwsCode(() => breeze.secretEncrypt({ keys: ring.keys }, 't', 'c', 'x'), 'invalid_input');
  const key = inputs().envelope.mfaKey;
  assert.equal(breeze.mfaDecrypt(key, breeze.mfaEncrypt(key, 'JBSWY3DPEHPK3PXP')), 'JBSWY3DPEHPK3PXP');
});

test(`[${backendName}] jwt (breeze generated)`, () => {
  const cases = load('crypto/breeze_generated.json').jwt;
  assert.ok(cases.length);
  for (const c of cases) {
    const ring = jwtRing(c.kid);
    assert.deepEqual(breeze.jwtVerify(ring, c.token, c.type, c.now), c.claims, c.name);
    assert.equal(breeze.jwtSign(ring, c.claims), c.token, c.name);
  }
});

test(`[${backendName}] jwt (node jose)`, () => {
  const v = load('crypto/jwt_jose.json');
  assert.ok(v.tokens.length);
  for (const c of v.tokens) {
    const claims = breeze.jwtVerify(jwtRing(c.kid), c.token, c.type, v.now);
    assert.equal(claims.type, c.type);
    assert.equal(claims.sub, inputs().jwt.claims.sub);
  }
});

test(`[${backendName}] jwt errors`, () => {
  const c = load('crypto/breeze_generated.json').jwt[0];
  const ring = jwtRing(c.kid);
  const other = c.type === 'access' ? 'refresh' : 'access';
  const tampered = c.token.slice(0, -2) + (c.token.endsWith('AA') ? 'BB' : 'AA');
  throwsCode(() => breeze.jwtVerify(ring, c.token, other, c.now), 'wrong_type');
  throwsCode(() => breeze.jwtVerify(ring, c.token, c.type, c.now + 1e7), 'expired');
  throwsCode(() => breeze.jwtVerify(ring, tampered, c.type, c.now), 'bad_signature');
  throwsCode(() => breeze.jwtVerify(ring, 'a.b', c.type, c.now), 'token_malformed');
  throwsCode(() => breeze.jwtVerify({ keys: { other: 'x'.repeat(40) }, active: 'other' }, c.token, c.type, c.now), 'unknown_key_id');
  throwsCode(() => breeze.jwtVerify(ring, c.token, c.type, 1.5), 'invalid_input');
});

test(`[${backendName}] totp`, () => {
  const t = load('crypto/breeze_generated.json').totp;
  assert.ok(t.codes.length);
  for (const c of t.codes) {
    assert.equal(breeze.totpCode(t.secretBase32, c.time), c.code);
    assert.equal(breeze.totpVerify(t.secretBase32, c.code, c.time), c.step);
  }
  const rfc = load('crypto/rfc6238_totp.json');
  assert.ok(rfc.vectors.length);
  for (const c of rfc.vectors) {
    assert.equal(breeze.totpRfc6238Code(enc.encode(rfc.secretAscii), c.time, rfc.digits), c.code);
  }
  const wrong = t.codes[0].code !== '000000' ? '000000' : '111111';
  throwsCode(() => breeze.totpVerify(t.secretBase32, wrong, 1e9 + 7 * 86400), 'totp_mismatch');
  const secret = breeze.totpGenerateSecret();
  assert.equal(breeze.totpVerify(secret, breeze.totpCode(secret, 1_800_000_000), 1_800_000_000), 60_000_000);
  assert.ok(breeze.totpOtpauthUri(secret, 'ana@example.com').startsWith('otpauth://totp/'));
});

// ---------------------------------------------------------------- authz

test(`[${backendName}] permissions`, () => {
  const v = load('authz/permissions.json');
  assert.deepEqual(breeze.permissionRegistry(), v.registry);
  assert.deepEqual(breeze.seededRoles(), v.roles);
  assert.ok(v.checks.length > 100);
  for (const c of v.checks) assert.equal(breeze.permissionCheck(c.role, c.permission), c.allowed, JSON.stringify(c));
  for (const c of v.grant_matches) assert.equal(breeze.grantMatches(c.grant, c.permission), c.matches, JSON.stringify(c));
  for (const c of v.invalid_grants) throwsCode(() => breeze.grantMatches(c.input, 'devices:read'), c.error_code, c.input);
  for (const c of v.full_wildcard_by_scope) {
    const role = { name: 'r', scope: c.scope, grants: [c.grant], force_mfa: false };
    if (c.allowed) breeze.roleValidate(role);
    else throwsCode(() => breeze.roleValidate(role), 'full_wildcard_not_allowed');
  }
  for (const r of v.roles) assert.equal(breeze.roleAllows(r, 'devices:read'), breeze.permissionCheck(r.name, 'devices:read'));
});

test(`[${backendName}] api-key scopes and status`, () => {
  const v = load('authz/scopes.json');
  assert.ok(v.matches.length && v.invalid.length && v.key_status.length);
  for (const c of v.matches) assert.equal(breeze.apiKeyScopesAllow(c.scopes, c.permission), c.allowed, JSON.stringify(c));
  for (const c of v.invalid) throwsCode(() => breeze.apiKeyScopesAllow(c.scopes, 'devices:read'), c.error_code);
  for (const c of v.key_status) {
    let got = 'usable';
    try { breeze.apiKeyCheck(c.status, c.expires_at, c.now); } catch (e) { got = e.code; }
    assert.equal(got, c.outcome, JSON.stringify(c));
  }
});

test(`[${backendName}] risk`, () => {
  const v = load('authz/risk.json');
  assert.deepEqual(breeze.riskCatalogue(), v.catalogue);
  assert.ok(v.decisions.length);
  for (const c of v.decisions) {
    const d = breeze.riskDecide(c.tool, c.target, v.policies);
    for (const key of ['level', 'outcome', 'source', 'ignored_override']) assert.deepEqual(d[key], c[key], `${key} ${JSON.stringify(c)}`);
  }
  for (const c of v.refused_policies) {
    throwsCode(() => breeze.riskDecide(c.tool, v.decisions[0].target, [{ scope: c.scope, tool: c.tool, level: c.level }]), c.error_code);
  }
});

test(`[${backendName}] approvals: argument digests, ai scopes, tools`, () => {
  const v = load('authz/approvals.json');
  assert.ok(v.digests.length && v.ai_scopes.length && v.tools.length);
  for (const c of v.digests) {
    if (c.hex !== undefined) assert.equal(breeze.approvalArgumentDigest(c.tool, c.arguments_json), c.hex, c.name);
    else throwsCode(() => breeze.approvalArgumentDigest(c.tool, c.arguments_json), c.error_code, c.name);
  }
  for (const c of v.ai_scopes) assert.equal(breeze.aiScopeNamed(c.scopes, c.scope), c.named, JSON.stringify(c));
  assert.deepEqual(breeze.aiTools(), v.tools);
  throwsCode(() => breeze.aiScopeNamed(['ai:read'], 'ai:*'), 'invalid_input');
  throwsCode(() => breeze.aiScopeNamed(['AI:read'], 'ai:read'), 'invalid_scope');
});

test(`[${backendName}] force-mfa`, () => {
  const v = load('authz/mfa.json');
  assert.ok(v.cases.length);
  for (const c of v.cases) {
    assert.equal(breeze.mfaEnrollmentRequired(c.role_requires_mfa, c.mfa_enrolled, c.path), c.enrollment_required, JSON.stringify(c));
  }
});

test(`[${backendName}] session validity`, () => {
  const v = load('authz/session.json');
  assert.deepEqual(v.checks, ['invalid_token', 'session_revoked', 'password_changed', 'mfa_required']);
  assert.ok(v.cases.length >= 96);
  for (const c of v.cases) {
    let got = 'valid';
    try { breeze.sessionCheck(c.user, c.token); } catch (e) { got = e.code; }
    assert.equal(got, c.outcome, c.name);
  }
  const [first] = v.cases;
  throwsCode(() => breeze.sessionCheck({ ...first.user, extra: true }, first.token), 'invalid_input');
  throwsCode(() => breeze.sessionCheck(first.user, { aep: first.token.aep }), 'invalid_input');
  // A verified token's claims object is accepted as it is.
  breeze.sessionCheck(first.user, { ...first.token, sub: 'x', type: 'access', exp: first.token.iat + 900 });
});

// ---------------------------------------------------------------- audit

const chainKeys = () => load('audit/chain.json').keys.map((k) => ({ key_id: k.key_id, public_key: k.public_key }));

test(`[${backendName}] audit canonical form`, () => {
  const v = load('audit/canonical.json');
  assert.ok(v.cases.length >= 6);
  for (const c of v.cases) {
    assert.deepEqual(breeze.auditEntryHashes(c.entry), {
      canonical_hex: c.canonical_hex, content_hash: c.content_hash, chain_hash: c.chain_hash, seal_valid: true,
    }, c.name);
    const bad = structuredClone(c.entry);
    bad.sequence += 1;
    assert.equal(breeze.auditEntryHashes(bad).seal_valid, false);
  }
});

test(`[${backendName}] audit bundles`, () => {
  const v = load('audit/chain.json');
  for (const which of ['full', 'pruned']) {
    const bundle = v[which].bundle;
    assert.deepEqual(breeze.auditVerifyBundle(bundle), v[which].report, which);
    assert.deepEqual(breeze.auditVerifyBundle(enc.encode(bundle)), v[which].report, which);
    const trusted = breeze.auditVerifyBundle(bundle, chainKeys());
    assert.ok(trusted.ok && trusted.keys_trusted, which);
  }
});

test(`[${backendName}] audit tampered bundles`, () => {
  const v = load('audit/tampered.json');
  assert.ok(v.cases.length >= 20);
  for (const c of v.cases) {
    const keys = c.trusted_keys !== null ? chainKeys() : null;
    const report = breeze.auditVerifyBundle(c.bundle, keys, c.trusted_checkpoints);
    assert.equal(report.ok, false, c.name);
    assert.equal(report.break.kind, c.expected.kind, `${c.name}: ${JSON.stringify(report.break)}`);
    assert.equal(report.break.sequence, c.expected.sequence, `${c.name}: ${JSON.stringify(report.break)}`);
  }
});

test(`[${backendName}] audit chain and checkpoints`, () => {
  const v = load('audit/chain.json');
  const lines = v.full.bundle.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const chain = lines[0].chain;
  const entries = lines.filter((l) => l.entry).map((l) => l.entry);
  const checkpoints = lines.filter((l) => l.checkpoint).map((l) => l.checkpoint);
  assert.ok(entries.length && checkpoints.length);
  const ok = breeze.auditVerifyChain(chain, entries, chainKeys());
  assert.equal(ok.ok, true);
  assert.equal(ok.entries, entries.length);
  const bad = structuredClone(entries);
  bad[3].event.action = 'auth.login.failure';
  const broken = breeze.auditVerifyChain(chain, bad, chainKeys());
  assert.equal(broken.ok, false);
  assert.equal(broken.break.kind, 'content_altered');
  assert.equal(broken.break.sequence, 3);
  for (const cp of checkpoints) breeze.auditVerifyCheckpoint(cp, chainKeys());
  const forged = { ...checkpoints[0], entry_count: checkpoints[0].entry_count + 1 };
  assert.throws(() => breeze.auditVerifyCheckpoint(forged, chainKeys()), (e) => ['count_mismatch', 'bad_signature'].includes(e.code));
  throwsCode(() => breeze.auditVerifyCheckpoint(checkpoints[0], []), 'unknown_key');
});

test(`[${backendName}] audit sanitizer`, () => {
  const v = load('audit/sanitize.json');
  assert.ok(v.cases.length);
  for (const c of v.cases) assert.deepEqual(breeze.auditSanitizeDetails(c.input), c.output, c.name);
});

// ---------------------------------------------------------------- agent protocol

test(`[${backendName}] agent protocol text vectors`, () => {
  const v = load('agent-proto/text.json');
  assert.ok(v.vectors.length > 50);
  for (const c of v.vectors) {
    assert.deepEqual(breeze.agentDecode(c.kind, c.input), c.expect, c.name);
    assert.deepEqual(breeze.agentDecode(c.kind, enc.encode(c.input)), c.expect, c.name);
  }
});

test(`[${backendName}] agent protocol binary vectors`, () => {
  const v = load('agent-proto/binary.json');
  assert.ok(v.vectors.length);
  for (const c of v.vectors) assert.deepEqual(breeze.agentDecodeBinary(hexToBytes(c.inputHex)), c.expect, c.name);
});

test(`[${backendName}] agent protocol schemas`, () => {
  const files = schemaFiles();
  assert.deepEqual([...breeze.agentMessageKinds()].sort(), files.map((f) => f.kind).sort());
  for (const f of files) assert.deepEqual(breeze.agentSchema(f.kind), f.schema, f.kind);
  throwsCode(() => breeze.agentDecode('shell_exec', '{}'), 'invalid_input');
});

test(`[${backendName}] agent output redaction`, () => {
  const v = load('agent-proto/redact.json');
  assert.ok(v.vectors.length >= 30);
  for (const c of v.vectors) assert.equal(breeze.agentRedactSecrets(c.input), c.output, c.name);
});

test(`[${backendName}] agent remote path vectors`, () => {
  const v = load('agent-proto/remote_path.json');
  assert.ok(v.vectors.length >= 25);
  const codes = new Set();
  for (const c of v.vectors) {
    assert.equal(breeze.agentCheckRemotePath(c.input), c.code, c.name);
    codes.add(c.code);
  }
  assert.deepEqual([...codes].sort(), [null, 'path_dot_dot', 'path_empty', 'path_nul', 'path_relative', 'path_too_long'].sort());
});

test(`[${backendName}] agent file content vectors`, () => {
  const v = load('agent-proto/file_content.json');
  assert.ok(v.vectors.length >= 15);
  for (const c of v.vectors) {
    const r = c.contentBase64Repeat;
    const content = (r ? r.unit.repeat(r.times) : '') + c.contentBase64;
    const want = c.expect.ok ? { ok: true } : { ok: false, code: c.expect.code };
    assert.deepEqual(breeze.agentFileContentVerify(content, c.sha256, c.size), want, c.name);
    if (c.size === null) assert.deepEqual(breeze.agentFileContentVerify(content, c.sha256), want, c.name);
    if (c.expect.ok) {
      // An independent decoder and digest agree with the vector.
      const data = Buffer.from(content, 'base64');
      assert.equal(data.toString('base64'), content, c.name);
      assert.equal(data.toString('hex'), c.expect.dataHex, c.name);
      assert.equal(createHash('sha256').update(data).digest('hex'), c.sha256, c.name);
    }
  }
  for (const bad of [-1, 0.5, Number.NaN, 2 ** 53]) {
    throwsCode(() => breeze.agentFileContentVerify('', '0'.repeat(64), bad), 'invalid_input', String(bad));
  }
});

// ---------------------------------------------------------------- audit streaming and webhooks

test(`[${backendName}] audit stream segments`, () => {
  const v = load('audit/stream.json');
  assert.ok(v.cases.length >= 10);
  for (const c of v.cases) assert.deepEqual(breeze.auditVerifyStream(c.chain, c.entries, chainKeys()), c.expected, c.name);
  // A middle segment of chain.json's bundle verifies; without its middle entry, that entry is named.
  const lines = load('audit/chain.json').full.bundle.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const chain = lines[0].chain;
  const entries = lines.filter((l) => l.entry).map((l) => l.entry);
  const ok = breeze.auditVerifyStream(chain, entries.slice(3, 8), chainKeys());
  assert.equal(ok.ok, true);
  assert.deepEqual([ok.first_sequence, ok.entries, ok.last_sequence], [3, 5, 7]);
  const hole = breeze.auditVerifyStream(chain, [...entries.slice(3, 5), ...entries.slice(6, 8)], chainKeys());
  assert.equal(hole.ok, false);
  assert.equal(hole.break.kind, 'entry_removed');
  assert.equal(hole.break.sequence, 5);
  assert.equal(breeze.auditVerifyChain(chain, [...entries.slice(0, 5), ...entries.slice(6)], chainKeys()).break.sequence, 5);
});

/** The webhook-signature header computed with node:crypto. */
function nodeSignature(secrets, msgId, timestamp, body) {
  return secrets
    .map((s) => {
      const mac = createHmac('sha256', Buffer.from(s.slice('whsec_'.length), 'base64'));
      mac.update(`${msgId}.${timestamp}.`);
      mac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
      return `v1,${mac.digest('base64')}`;
    })
    .join(' ');
}

test(`[${backendName}] webhook signatures`, () => {
  const v = load('webhooks/signatures.json');
  const r = v.reference;
  assert.equal(breeze.webhookSign([r.secret], r.msg_id, r.timestamp, r.body), r.signature);
  assert.equal(breeze.webhookSign([r.secret], r.msg_id, r.timestamp, enc.encode(r.body)), r.signature);
  assert.equal(nodeSignature([r.secret], r.msg_id, r.timestamp, r.body), r.signature);
  assert.ok(v.sign.length >= 8);
  for (const c of v.sign) {
    assert.equal(breeze.webhookSign(c.secrets, c.msg_id, c.timestamp, c.body), c.signature, c.name);
    assert.equal(nodeSignature(c.secrets, c.msg_id, c.timestamp, c.body), c.signature, c.name);
  }
  assert.ok(v.sign_errors.length);
  for (const c of v.sign_errors) throwsCode(() => breeze.webhookSign(c.secrets, c.msg_id, c.timestamp, c.body), c.code, c.name);
  assert.ok(v.verify.length >= 40);
  for (const c of v.verify) {
    const run = (body) => breeze.webhookVerify(c.secrets, c.msg_id, c.timestamp, c.signature, body, c.now, c.tolerance);
    if (c.expect.ok) {
      assert.equal(run(c.body), undefined, c.name);
      assert.equal(run(enc.encode(c.body)), undefined, c.name);
    } else {
      throwsCode(() => run(c.body), c.expect.code, c.name);
    }
  }
});

test(`[${backendName}] webhook secrets and bytes`, () => {
  const s = breeze.webhookGenerateSecret();
  assert.ok(s.startsWith('whsec_'));
  assert.equal(Buffer.from(s.slice(6), 'base64').length, 32);
  assert.notEqual(breeze.webhookGenerateSecret(), s);
  const body = Uint8Array.from([0, 255, 32, 98]);
  const t = 1_767_225_600;
  const h = breeze.webhookSign([s], 'msg_1', t, body);
  assert.equal(h, nodeSignature([s], 'msg_1', t, body));
  breeze.webhookVerify([s], 'msg_1', String(t), h, body, t + 300);
  breeze.webhookVerify([s], 'msg_1', String(t), h, body, t + 300, null);
  throwsCode(() => breeze.webhookVerify([s], 'msg_1', String(t), h, body, t + 301), 'timestamp_too_old');
  throwsCode(() => breeze.webhookVerify([s], 'msg_1', String(t), h, Uint8Array.from([0, 255, 32, 99]), t), 'no_matching_signature');
  for (const bad of [-1, 0.5, Number.NaN]) {
    throwsCode(() => breeze.webhookVerify([s], 'msg_1', String(t), h, body, t, bad), 'invalid_input', String(bad));
  }
  throwsCode(() => breeze.webhookSign([s], 'msg_1', 1.5, body), 'invalid_input');
});

test(`[${backendName}] webhook payloads`, () => {
  const v = load('webhooks/payloads.json');
  assert.deepEqual(breeze.webhookEventCatalogue(), v.catalogue);
  assert.deepEqual(v.catalogue.filter((e) => !e.subscribable).map((e) => e.type), ['webhook.test']);
  assert.ok(v.cases.length >= 20);
  for (const c of v.cases) {
    const run = () => breeze.webhookPayload(c.type, c.timestamp, c.org_id, c.data);
    if (c.expect.ok) {
      const body = run();
      assert.equal(body, c.expect.body, c.name);
      const parsed = JSON.parse(body);
      assert.deepEqual(parsed.data, c.data, c.name);
      assert.equal(parsed.type, c.type, c.name);
    } else {
      throwsCode(run, c.expect.code, c.name);
    }
  }
  // Integral numbers past 2^32 stay integers in the body.
  const body = breeze.webhookPayload('remote.session.ended', '2026-01-01T00:00:00Z', v.cases[0].org_id, { bytesIn: 5_000_000_000 });
  assert.ok(body.includes('"bytesIn":5000000000}'), body);
});

// ---------------------------------------------------------------- HTTP message signatures (SPEC 17)

const httpsigHeaders = (c) => ({ contentDigest: c.contentDigest, signatureInput: c.signatureInput, signature: c.signature });
const httpsigVerifyCase = (c, body = c.body) =>
  breeze.httpsigVerify(c.publicKey, c.method, c.targetUri, body, httpsigHeaders(c), c.label, c.keyid, c.now);
const nodeContentDigest = (body) => `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;

test(`[${backendName}] httpsig content digests and keys`, () => {
  const v = load('crypto/httpsig.json');
  assert.ok(v.contentDigest.length >= 4);
  for (const c of v.contentDigest) {
    assert.equal(breeze.httpsigContentDigest(c.body), c.contentDigest, c.name);
    assert.equal(breeze.httpsigContentDigest(enc.encode(c.body)), c.contentDigest, c.name);
    assert.equal(nodeContentDigest(c.body), c.contentDigest, c.name);
  }
  assert.ok(v.keys.length);
  for (const c of [...v.keys, ...v.rfc9421]) assert.equal(breeze.httpsigPublicKey(c.seed), c.publicKey);
  throwsCode(() => breeze.httpsigPublicKey('not a seed'), 'private_key_invalid');
  // publicKeys: each key in place of the vector key of a valid signature
  const valid = v.verify.find((c) => c.expect.ok);
  assert.ok(v.publicKeys.length >= 5);
  for (const c of v.publicKeys) {
    const run = () => httpsigVerifyCase({ ...valid, publicKey: c.publicKey });
    if (c.expect.ok) assert.equal(run().created, valid.expect.created, c.name);
    else throwsCode(run, c.expect.code, c.name);
  }
});

test(`[${backendName}] httpsig sign vectors`, () => {
  const v = load('crypto/httpsig.json');
  assert.ok(v.sign.length >= 4);
  for (const c of v.sign) {
    for (const body of [c.body, enc.encode(c.body)]) {
      assert.deepEqual(breeze.httpsigSign(c.seed, c.method, c.targetUri, body, c.keyid, c.created, c.nonce), c.expect, c.name);
    }
  }
});

test(`[${backendName}] httpsig verify vectors`, () => {
  const v = load('crypto/httpsig.json');
  assert.ok(v.verify.length >= 20);
  for (const c of v.verify) {
    const e = c.expect;
    if (e.ok) {
      assert.deepEqual(httpsigVerifyCase(c), { created: e.created, nonce: e.nonce }, c.name);
      assert.equal(httpsigVerifyCase(c, enc.encode(c.body)).nonce, e.nonce, c.name);
    } else {
      throwsCode(() => httpsigVerifyCase(c), e.code, c.name);
    }
  }
});

test(`[${backendName}] httpsig signatures made by http-message-signatures (PyPI)`, () => {
  const v = load('crypto/httpsig_http_message_signatures.json');
  assert.ok(v.cases.length >= 10);
  for (const c of v.cases) {
    const body = Uint8Array.from(Buffer.from(c.bodyBase64, 'base64'));
    assert.deepEqual(httpsigVerifyCase(c, body), c.expect, c.name);
    if (c.contentDigest) assert.equal(breeze.httpsigContentDigest(body), c.contentDigest, c.name);
    throwsCode(() => httpsigVerifyCase({ ...c, method: c.method === 'PUT' ? 'POST' : 'PUT' }, body), 'signature_invalid', c.name);
  }
});

test(`[${backendName}] httpsig round trip and errors`, () => {
  const key = breeze.httpsigGenerateKey();
  assert.deepEqual(Object.keys(key).sort(), ['publicKey', 'seed']);
  assert.equal(key.seed.length, 43);
  assert.equal(breeze.httpsigPublicKey(key.seed), key.publicKey);
  assert.notEqual(breeze.httpsigGenerateKey().seed, key.seed);
  const uri = 'https://rmm.example.com/api/v1/agents/agt_1/commands/c1/result';
  const body = Uint8Array.from([0, 255, 32, 98]);
  const t = 1_767_225_600;
  const signed = breeze.httpsigSign(key.seed, 'POST', uri, body, 'agt_1', t);
  assert.equal(signed.contentDigest, nodeContentDigest(body));
  const ok = breeze.httpsigVerify(key.publicKey, 'POST', uri, body, signed, 'sig1', 'agt_1', t + 300);
  assert.equal(ok.created, t);
  assert.ok(signed.signatureInput.includes(`nonce="${ok.nonce}"`));
  assert.notEqual(breeze.httpsigSign(key.seed, 'POST', uri, body, 'agt_1', t, null).signatureInput, signed.signatureInput);
  const bare = breeze.httpsigSign(key.seed, 'GET', uri, '', 'agt_1', t);
  assert.equal(bare.contentDigest, null);
  assert.equal(breeze.httpsigVerify(key.publicKey, 'GET', uri, new Uint8Array(0), bare, 'sig1', 'agt_1', t).created, t);
  const cases = [
    [['POST', uri, Uint8Array.from([0, 255, 32, 99]), signed, 'sig1', 'agt_1', t], 'content_digest_mismatch'],
    [['PUT', uri, body, signed, 'sig1', 'agt_1', t], 'signature_invalid'],
    [['POST', uri, body, signed, 'sig1', 'agt_1', t + 301], 'signature_expired'],
    [['POST', uri, body, signed, 'sig1', 'agt_1', t - 31], 'signature_from_future'],
    [['POST', uri, body, signed, 'sig1', 'agt_2', t], 'signature_keyid'],
    [['POST', uri, body, signed, 'sig2', 'agt_1', t], 'signature_label_missing'],
    [['POST', uri, body, {}, 'sig1', 'agt_1', t], 'signature_missing'],
    [['POST', uri, body, { Signature: 'x' }, 'sig1', 'agt_1', t], 'invalid_input'],
    [['POST', uri, body, signed, 'sig1', 'agt_1', 0.5], 'invalid_input'],
  ];
  for (const [args, code] of cases) throwsCode(() => breeze.httpsigVerify(key.publicKey, ...args), code, String(args[0]) + code);
  throwsCode(() => breeze.httpsigVerify(breeze.httpsigGenerateKey().publicKey, 'POST', uri, body, signed, 'sig1', 'agt_1', t), 'signature_invalid');
  throwsCode(() => breeze.httpsigSign(key.seed, 'POST', uri, body, 'agt_1', 1.5), 'invalid_input');
  throwsCode(() => breeze.httpsigSign('AAAA', 'POST', uri, body, 'agt_1', t), 'private_key_invalid');
});
