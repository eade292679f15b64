// Browser test of the operator console (SPEC 15) against the real breeze-server (which embeds
// the built console), PostgreSQL and the real reference agent, in Debian's Chromium driven by
// playwright-core. Started by server-reference/tests/it/console_e2e.rs, which prepares the
// world and passes it in the environment:
//
//   BREEZE_BASE          http://127.0.0.1:PORT of the server
//   ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_TOTP_SECRET (base32)   an org admin with MFA on
//   NEWUSER_EMAIL, NEWUSER_PASSWORD   an org admin without MFA (forced enrollment)
//   ORG_ID               the organization
//   AGENT_BIN            target/debug/breeze-agent (private copy)
//   WORK_DIR             scratch directory (agent config, logs)
//   PG_SUPERUSER_URL     superuser URL of the test database (the tamper step)
//   SCREENSHOT_DIR       where <page>.png go (docs/console)
//
// The test fails on any console error, page error, CSP violation (securitypolicyviolation
// events recorded by an init script, and console messages naming the Content Security
// Policy), failed request, HTTP error answer, or JavaScript dialog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  assert.ok(v, `${name} is not set (run through tests/it/console_e2e.rs)`);
  return v;
};
const BASE = env('BREEZE_BASE');
const ADMIN = { email: env('ADMIN_EMAIL'), password: env('ADMIN_PASSWORD'), secret: env('ADMIN_TOTP_SECRET') };
const NEWUSER = { email: env('NEWUSER_EMAIL'), password: env('NEWUSER_PASSWORD') };
const ORG_ID = env('ORG_ID');
const AGENT_BIN = env('AGENT_BIN');
const WORK = env('WORK_DIR');
const PG = env('PG_SUPERUSER_URL');
const SHOTS = env('SCREENSHOT_DIR');
const VIEWPORT = { width: 1366, height: 768 };
const XSS = '<img src=x onerror=alert(1)>';
const CONSOLE_CSP =
  "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

// ---- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s), with a step never used twice per secret

function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    assert.ok(i >= 0, 'TOTP secret is not base32');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function hotp(secret, counter) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32(secret)).update(msg).digest();
  const o = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const usedSteps = new Map();
/**
 * A code the server accepts (its window is now +- 1 step) that was never used before. Never
 * the previous step's: the code is typed and submitted a moment later, and a step boundary
 * in between would put a previous-step code outside the window (seen once in CI on a loaded
 * machine). The current or next step stays inside it across one boundary.
 */
async function totp(secret) {
  for (;;) {
    const now = Math.floor(Date.now() / 1000 / 30);
    const last = usedSteps.get(secret) ?? -1;
    const step = Math.max(now, last + 1);
    if (step <= now + 1) {
      usedSteps.set(secret, step);
      return hotp(secret, step);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ---- the browser, with every kind of failure recorded

const problems = [];
const expectedHttpErrors = []; // [{ method, path, status }] the test itself provokes

// pages the test itself is reloading: their in-flight requests are cancelled by the browser
const navigating = new WeakSet();
async function reload(page) {
  navigating.add(page);
  try {
    await page.reload();
  } finally {
    navigating.delete(page);
  }
}

function watch(page, label) {
  page.on('console', (m) => {
    const text = m.text();
    // Chromium logs every HTTP error answer and network failure as "Failed to load
    // resource"; the response and requestfailed listeners below judge those exactly
    if (m.type() === 'error' && text.startsWith('Failed to load resource:')) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(text)) problems.push(`${label} console ${m.type()}: ${text}`);
  });
  page.on('pageerror', (e) => problems.push(`${label} page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`${label} unexpected dialog: ${d.type()} ${d.message()}`);
    void d.dismiss();
  });
  page.on('requestfailed', (r) => {
    const f = r.failure()?.errorText ?? '';
    // a download the page hands to the browser, or a navigation that replaces a pending
    // request, or a reload by the test, aborts it: not a failure of the server
    if (f === 'net::ERR_ABORTED' && (r.url().startsWith('blob:') || r.resourceType() === 'document' || navigating.has(page))) return;
    problems.push(`${label} request failed: ${r.method()} ${r.url()} ${f}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const path = new URL(r.url()).pathname;
    const i = expectedHttpErrors.findIndex((e) => e.method === r.request().method() && e.path === path && e.status === r.status());
    if (i >= 0) expectedHttpErrors.splice(i, 1);
    else problems.push(`${label} HTTP ${r.status()} for ${r.request().method()} ${path}`);
  });
}

const INIT = () => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sample || ''})`);
  });
};

async function cspViolations(page) {
  return page.evaluate(() => window.__csp.splice(0));
}

async function clean(page, step) {
  for (const v of await cspViolations(page)) problems.push(`${step}: CSP violation ${v}`);
  assert.deepEqual(problems, [], `${step}: the browser reported problems`);
}

async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

const text = (page, sel) => page.locator(sel).first().innerText();

async function login(page, who, secret) {
  await page.goto(`${BASE}/`);
  await page.getByLabel('E-mail').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  if (secret) {
    await page.getByLabel('Authentication code').fill(await totp(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
  }
}

async function psql(sql) {
  const r = spawnSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-q', '-t', '-A', '-c', sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, `psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

const agents = [];
function agent(args, logName) {
  const log = createWriteStream(join(WORK, `${logName}.log`));
  const child = spawn(AGENT_BIN, ['--config-dir', join(WORK, 'agent'), ...args], {
    env: { ...process.env, RUST_LOG: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  agents.push(child);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

let failed = false;
/** One step of the flow; the steps build on each other, so after a failure the rest skip. */
function step(t, name, fn) {
  return t.test(name, { skip: failed ? 'an earlier step failed' : false }, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      if (problems.length) console.error(`browser problems so far:\n  ${problems.join('\n  ')}`);
      throw e;
    }
  });
}

test('the operator console end to end', { timeout: 600_000 }, async (t) => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  t.after(async () => {
    for (const a of agents) a.kill('SIGTERM');
    await browser.close();
  });

  // ---- a cold load: the page and its headers, its weight and timing
  await step(t, 'cold load: strict CSP, first-load weight and time', async () => {
    const ctx = await browser.newContext({ viewport: VIEWPORT });
    const page = await ctx.newPage();
    await page.addInitScript(INIT);
    watch(page, 'cold');
    const res = await page.goto(`${BASE}/`, { waitUntil: 'load' });
    assert.equal(res.status(), 200);
    const h = res.headers();
    assert.equal(h['content-security-policy'], CONSOLE_CSP, 'the console is served under the strict CSP');
    assert.match(h['cache-control'] ?? '', /no-store/);
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    const m = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource').filter((r) => /\.(js|css)$/.test(new URL(r.name).pathname));
      return {
        ttfb: nav.responseStart,
        domContentLoaded: nav.domContentLoadedEventEnd,
        load: nav.loadEventEnd,
        files: res.length,
        transferred: res.reduce((s, r) => s + r.transferSize, 0),
        decoded: res.reduce((s, r) => s + r.decodedBodySize, 0),
      };
    });
    console.log(
      `first load of /: TTFB ${m.ttfb.toFixed(0)} ms, DOMContentLoaded ${m.domContentLoaded.toFixed(0)} ms, load ${m.load.toFixed(0)} ms; ` +
        `${m.files} JS/CSS files, ${m.transferred} bytes transferred (${m.decoded} decoded)`,
    );
    // no session: the page made no API request at all (no refresh without a CSRF cookie)
    assert.equal(await page.evaluate(() => performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/')).length), 0);
    // the CSP detector itself works: an inline <style> is refused and recorded
    await page.evaluate(() => {
      const s = document.createElement('style');
      s.textContent = 'body { color: red }';
      document.head.append(s);
    });
    await page.waitForFunction(() => window.__csp.length > 0);
    const seen = await cspViolations(page);
    assert.ok(seen.some((v) => v.startsWith('style-src')), `the detector saw ${seen}`);
    problems.splice(0, problems.length, ...problems.filter((p) => !/Content Security Policy/.test(p)));
    await shot(page, 'login');
    await clean(page, 'cold load');
    await ctx.close();
  });

  // ---- a single sign-on's landing (SPEC 16): a refusal code is shown as text and the
  // address is cleaned; `?sso=mfa` asks for the code (the full SSO flow through a real
  // provider is tests/it/sso_oidc.rs, without a browser)
  await step(t, 'single sign-on landings: a refusal as text, the MFA step', async () => {
    const ctx = await browser.newContext({ viewport: VIEWPORT });
    const page = await ctx.newPage();
    await page.addInitScript(INIT);
    watch(page, 'sso');
    await page.goto(`${BASE}/?sso=error&reason=email_unverified`);
    await page.getByText('Single sign-on was refused: email_unverified').waitFor();
    assert.equal(new URL(page.url()).search, '', 'the outcome is removed from the address');
    await page.goto(`${BASE}/?sso=error&reason=${encodeURIComponent(XSS)}`);
    await page.getByText('Single sign-on was refused: sso_failed').waitFor();
    assert.equal(await page.locator('img').count(), 0);
    await page.goto(`${BASE}/?sso=mfa`);
    await page.getByLabel('Authentication code').waitFor();
    // without the server's MFA cookie the code is refused, and the page says why
    expectedHttpErrors.push({ method: 'POST', path: '/api/v1/auth/sso/mfa', status: 401 });
    await page.getByLabel('Authentication code').fill('123456');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(/invalid_mfa_token/).waitFor();
    await clean(page, 'sso');
    await ctx.close();
  });

  const ctx = await browser.newContext({ viewport: VIEWPORT });
  const page = await ctx.newPage();
  await page.addInitScript(INIT);
  watch(page, 'admin');
  let enrollmentKey = '';
  let deviceId = '';

  await step(t, 'login with password and TOTP; the token stays in memory', async () => {
    await login(page, ADMIN, ADMIN.secret);
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    const storage = await page.evaluate(async () => ({
      local: localStorage.length,
      session: sessionStorage.length,
      idb: (await indexedDB.databases()).length,
      cookies: document.cookie.split(';').map((c) => c.split('=')[0].trim()).filter(Boolean),
    }));
    assert.deepEqual(storage, { local: 0, session: 0, idb: 0, cookies: ['breeze_csrf'] }, 'nothing secret is stored by script');
    // a reload restores the session from the HttpOnly refresh cookie
    await reload(page);
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    await clean(page, 'login');
  });

  await step(t, 'create an enrollment key: the raw value is shown once', async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    const form = page.getByRole('form', { name: 'New enrollment key' });
    await form.getByLabel('Name').fill('console e2e');
    await form.getByLabel('Uses').fill('2');
    await form.getByRole('button', { name: 'Create enrollment key' }).click();
    const secret = page.getByRole('region', { name: 'New enrollment key' });
    enrollmentKey = (await secret.getByTestId('secret-value').innerText()).trim();
    assert.match(enrollmentKey, /^[0-9a-f]{64}$/, 'a raw enrollment key');
    await secret.getByRole('button', { name: 'Copy' }).waitFor();
    await shot(page, 'keys');
    await secret.getByRole('button', { name: 'I have stored it' }).click();
    assert.equal(await page.getByText(enrollmentKey).count(), 0, 'gone once dismissed');
    await page.getByRole('cell', { name: 'console e2e' }).waitFor();
    await clean(page, 'enrollment key');
  });

  await step(t, 'the real agent enrolls with it and appears', async () => {
    const code = await agent(['enroll', enrollmentKey, '--server', BASE], 'agent-enroll');
    assert.equal(code, 0, 'breeze-agent enroll');
    // heartbeats every 5 s (the device turns online at the first), a plain /bin/sh terminal
    const config = join(WORK, 'agent', 'agent.yaml');
    const yaml = readFileSync(config, 'utf8').replace(/^heartbeat_interval_seconds:.*$/m, 'heartbeat_interval_seconds: 5');
    assert.match(yaml, /^heartbeat_interval_seconds: 5$/m, 'the agent config names its heartbeat interval');
    writeFileSync(config, `${yaml}terminal_shell: /bin/sh\n`);
    void agent(['run'], 'agent');
    await page.getByRole('link', { name: 'Devices' }).click();
    const link = page.getByTestId('device-link').first();
    for (let i = 0; i < 60 && !(await link.count()); i += 1) {
      await page.waitForTimeout(500);
      await page.getByRole('button', { name: 'Refresh' }).click();
    }
    await link.waitFor();
    // online once the agent's socket is up
    const online = page.locator('td .badge-online');
    for (let i = 0; i < 60 && !(await online.count()); i += 1) {
      await page.waitForTimeout(500);
      await page.getByRole('button', { name: 'Refresh' }).click();
    }
    await online.first().waitFor();
    await shot(page, 'devices');
    await link.click();
    deviceId = decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '');
    assert.match(deviceId, /^[0-9a-f-]{36}$/);
    await clean(page, 'agent');
  });

  await step(t, 'queue `uname -a` and see its output', async () => {
    const form = page.getByRole('region', { name: 'Run a script' });
    await form.getByLabel('Script').fill('uname -a');
    await form.getByRole('button', { name: 'Queue script' }).click();
    const result = form.getByTestId('command-result');
    await result.waitFor({ timeout: 60_000 });
    assert.equal(await result.getAttribute('data-status'), 'completed');
    const out = await form.getByTestId('stdout').innerText();
    assert.match(out, /^Linux /, `uname -a output: ${out}`);
    await page.getByRole('region', { name: 'Command history' }).getByText('run_script').first().waitFor();
    await result.scrollIntoViewIfNeeded();
    await shot(page, 'device');
    await clean(page, 'command');
  });

  await step(t, 'the terminal through the ticket flow, and its recording', async () => {
    await page.getByRole('link', { name: 'Open terminal' }).click();
    await page.getByTestId('terminal-status').getByText('Connected.').waitFor({ timeout: 30_000 });
    await page.getByTestId('terminal').click();
    await page.keyboard.type('echo breeze-$((6*7)); printf "\\033[38;2;255;100;0mtruecolor\\033[0m\\n"');
    await page.keyboard.press('Enter');
    await page.getByTestId('terminal').getByText('breeze-42').waitFor({ timeout: 20_000 });
    await page.getByTestId('terminal').getByText('truecolor', { exact: true }).waitFor();
    await shot(page, 'terminal');
    await page.getByRole('button', { name: 'End session' }).click();
    await page.getByRole('link', { name: 'Recording' }).click();
    await page.getByText('Digest verified').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Play' }).click();
    await page.getByText('breeze-42').first().waitFor({ timeout: 20_000 });
    await clean(page, 'terminal');
  });

  await step(t, 'an agent-supplied hostname renders as text', async () => {
    const res = await fetch(`${BASE}/api/v1/agents/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollmentKey, hostname: XSS, osType: 'linux', osVersion: '6.1', architecture: 'x86_64', agentVersion: '1.0.0' }),
    });
    assert.equal(res.status, 201, await res.text());
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText(XSS, { exact: true }).waitFor();
    assert.equal(await page.locator('img').count(), 0, 'no <img> element was created');
    await page.getByText(XSS, { exact: true }).click();
    assert.equal(await page.getByTestId('device-name').innerText(), XSS);
    assert.equal(await page.locator('img').count(), 0);
    // quarantine, then decommission, each behind its confirm dialog
    await page.getByRole('button', { name: 'Quarantine' }).click();
    const q = page.getByRole('dialog');
    await q.getByText('cut off').waitFor();
    await q.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Quarantine' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Quarantine' }).click();
    await page.locator('.page-head .badge-quarantined').waitFor();
    await page.getByRole('button', { name: 'Decommission' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Decommission for good' }).click();
    await page.locator('.page-head .badge-decommissioned').waitFor();
    assert.ok(await page.getByRole('button', { name: 'Decommission' }).isDisabled());
    await clean(page, 'xss');
  });

  const verifyChain = async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('button', { name: 'Export and verify' }).click();
    const result = page.getByTestId('verify-result');
    await result.waitFor({ timeout: 60_000 });
    return result.innerText();
  };

  await step(t, 'the audit chain verifies in the browser (WASM)', async () => {
    const verdict = await verifyChain();
    const m = /Verified (\d+) entries/.exec(verdict);
    assert.ok(m, verdict);
    assert.ok(Number(m[1]) >= 5, verdict);
    await page.getByRole('cell', { name: 'enrollment_key.create' }).first().waitFor();
    await shot(page, 'audit');
    // the log pages by cursor: the second page starts after the first's last sequence
    await page.getByLabel('Per page').selectOption('10');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForFunction(() => document.querySelectorAll('table.audit tbody tr').length === 10);
    const first = await page.locator('table.audit tbody tr td:nth-child(2)').allInnerTexts();
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByText('Page 2').waitFor();
    await page.waitForFunction((last) => {
      const c = document.querySelector('table.audit tbody tr td:nth-child(2)');
      return c && Number(c.textContent) > last;
    }, Number(first[first.length - 1]));
    await page.getByRole('button', { name: '← Previous' }).click();
    await page.getByText('Page 1').waitFor();
    // filtered: only the enrollment key's creation
    await page.getByLabel('Action').fill('enrollment_key.create');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForFunction(() => document.querySelectorAll('table.audit tbody tr').length === 1);
    await clean(page, 'audit verify');
  });

  await step(t, 'a row altered in PostgreSQL is the first break, with its kind', async () => {
    const n = await psql(
      `SET session_replication_role = replica;
       UPDATE audit_log SET entry = jsonb_set(entry::jsonb, '{event,resource_id}', '"forged"')::text
        WHERE chain_key = '${ORG_ID}' AND seq = 3 RETURNING seq;`,
    );
    assert.match(n, /^3$/m, 'one row altered');
    const verdict = await verifyChain();
    assert.match(verdict, /Broken: content_altered at sequence 3/, verdict);
    assert.equal(await text(page, '[data-testid=break-kind]'), 'content_altered');
    await shot(page, 'audit-broken');
    await clean(page, 'audit tamper');
  });

  await step(t, 'an API key is shown once and works', async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    const form = page.getByRole('form', { name: 'New API key' });
    await form.getByLabel('Name').fill('console e2e key');
    await form.getByLabel('Scopes').fill('devices:read');
    await form.getByRole('button', { name: 'Create API key' }).click();
    const raw = (await page.getByRole('region', { name: 'New API key' }).getByTestId('secret-value').innerText()).trim();
    assert.ok(raw.length >= 32, 'a raw API key');
    const res = await fetch(`${BASE}/api/v1/devices`, { headers: { 'x-api-key': raw } });
    assert.equal(res.status, 200, 'the raw value shown is the working key');
    await reload(page);
    await page.getByRole('cell', { name: 'console e2e key' }).waitFor();
    assert.equal(await page.getByText(raw).count(), 0, 'never shown again');
    await clean(page, 'api key');
  });

  await step(t, 'webhooks: a refused target shows the API error; approvals inbox', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('Name').fill('loopback');
    await form.getByLabel('URL').fill('https://127.0.0.1/hook');
    expectedHttpErrors.push({ method: 'POST', path: '/api/v1/webhooks', status: 400 });
    await form.getByRole('button', { name: 'Create webhook' }).click();
    const err = form.getByRole('alert');
    await err.waitFor();
    assert.match(await err.innerText(), /^validation_failed: .*body\.url/, 'the SSRF guard refusal with its code and field');
    await page.getByText('No webhooks.').waitFor();
    await shot(page, 'webhooks');
    await page.getByRole('link', { name: 'Approvals' }).click();
    await page.getByText('Nothing pending.').waitFor();
    await clean(page, 'webhooks and approvals');
  });

  await step(t, 'sessions: list, and revoke another browser of the same user', async () => {
    const c3 = await browser.newContext({ viewport: VIEWPORT, userAgent: 'console-e2e second browser' });
    const p3 = await c3.newPage();
    await p3.addInitScript(INIT);
    watch(p3, 'second browser');
    await login(p3, ADMIN, ADMIN.secret);
    await p3.getByRole('heading', { name: 'Devices' }).waitFor();

    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByText('this session', { exact: true }).waitFor();
    const other = page.getByRole('row').filter({ hasText: 'console-e2e second browser' });
    await other.waitFor();
    await shot(page, 'sessions');
    await other.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await other.waitFor({ state: 'detached' });

    // the revoked browser's next request is refused, its refresh too, and it says so
    expectedHttpErrors.push({ method: 'GET', path: '/api/v1/devices', status: 401 });
    expectedHttpErrors.push({ method: 'POST', path: '/api/v1/auth/refresh', status: 401 });
    await p3.getByRole('button', { name: 'Refresh' }).click();
    await p3.getByText('Your session ended. Log in again.').waitFor();
    await clean(p3, 'revoked browser');
    await c3.close();
    await clean(page, 'sessions');
  });

  let c2;
  let p2;
  let newcomerSecret = '';
  await step(t, 'forced MFA enrollment for a second user', async () => {
    c2 = await browser.newContext({ viewport: VIEWPORT });
    p2 = await c2.newPage();
    await p2.addInitScript(INIT);
    watch(p2, 'newuser');
    await login(p2, NEWUSER, null);
    await p2.getByRole('heading', { name: 'Set up two-factor authentication' }).waitFor();
    await p2.getByLabel('Password', { exact: true }).fill(NEWUSER.password);
    await p2.getByRole('button', { name: 'Continue' }).click();
    const secret = (await p2.getByTestId('totp-secret').innerText()).trim();
    newcomerSecret = secret;
    assert.match(await p2.getByTestId('totp-uri').innerText(), /^otpauth:\/\/totp\//);
    await shot(p2, 'mfa-enroll');
    await p2.getByLabel('Authentication code').fill(await totp(secret));
    await p2.getByRole('button', { name: 'Enable MFA' }).click();
    const codes = (await p2.getByTestId('secret-value').innerText()).trim().split('\n');
    assert.equal(codes.length, 10, 'ten recovery codes shown once');
    await p2.getByRole('button', { name: 'Log in again' }).click();
    await p2.getByText('MFA enabled').waitFor();
    await p2.getByLabel('E-mail').fill(NEWUSER.email);
    await p2.getByLabel('Password', { exact: true }).fill(NEWUSER.password);
    await p2.getByRole('button', { name: 'Log in' }).click();
    await p2.getByLabel('Authentication code').fill(await totp(secret));
    await p2.getByRole('button', { name: 'Verify' }).click();
    await p2.getByRole('heading', { name: 'Devices' }).waitFor();
    await clean(p2, 'forced MFA');
  });

  await step(t, 'an AI call held for approval: the requester cannot decide, another admin approves with TOTP', async () => {
    // the admin makes an AI key in the console; an MCP client asks to run a script with it
    await page.getByRole('link', { name: 'Keys' }).click();
    const form = page.getByRole('form', { name: 'New API key' });
    await form.getByLabel('Name').fill('ai agent');
    await form.getByLabel('Scopes').fill('ai:read ai:execute');
    await form.getByRole('button', { name: 'Create API key' }).click();
    const key = (await page.getByRole('region', { name: 'New API key' }).getByTestId('secret-value').innerText()).trim();
    const mcp = async (body, session) => {
      const headers = { 'x-api-key': key, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      if (session) headers['mcp-session-id'] = session;
      const res = await fetch(`${BASE}/api/v1/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...body }) });
      assert.equal(res.status, 200, await res.clone().text());
      return { session: res.headers.get('mcp-session-id'), body: await res.json() };
    };
    const init = await mcp({ method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'console-e2e', version: '1' } } });
    assert.ok(init.session, 'an MCP session');
    const held = await mcp({ method: 'tools/call', params: { name: 'queue_script', arguments: { deviceId, content: 'uname -s', language: 'sh' } } }, init.session);
    assert.match(JSON.stringify(held.body), /approval_required/, JSON.stringify(held.body));

    // the requester sees it and is told another approver must decide
    await page.getByRole('link', { name: 'Approvals' }).click();
    const mine = page.getByRole('article', { name: 'Approval queue_script' });
    await mine.getByText('another approver must decide').waitFor();
    assert.equal(await mine.getByRole('button', { name: 'Approve' }).count(), 0);

    // the second admin approves it with a fresh TOTP code
    await p2.getByRole('link', { name: 'Approvals' }).click();
    const card = p2.getByRole('article', { name: 'Approval queue_script' });
    await card.getByText('"uname -s"').waitFor();
    await shot(p2, 'approvals');
    await card.getByLabel('Authentication code').fill(await totp(newcomerSecret));
    await card.getByLabel('Reason').fill('checked the script');
    await card.getByRole('button', { name: 'Approve' }).click();
    await p2.getByText('Nothing pending.').waitFor();
    await p2.getByLabel('Status').selectOption('approved');
    await p2.getByRole('article', { name: 'Approval queue_script' }).locator('.badge-approved').waitFor();
    await clean(p2, 'approval');
    await clean(page, 'approval requester');
    await c2.close();
  });

  await step(t, 'logout ends the session', async () => {
    await page.getByRole('button', { name: 'Log out' }).first().click();
    await page.getByText('Logged out.').waitFor();
    await reload(page);
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    await clean(page, 'logout');
  });

  assert.deepEqual(expectedHttpErrors, [], 'every expected error answer happened');
});
