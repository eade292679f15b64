// Verifies a Breeze audit export bundle in the browser with the WASM package (--target web).
// Query parameters for demos and the headless test: ?sample=full|pruned (vectors/audit/chain.json)
// or ?tampered=<case name> (vectors/audit/tampered.json), served from the repository root.
import init, { auditVerifyBundle } from '../../bindings/wasm/pkg-web/breeze_wasm.js';

const result = document.getElementById('result');
let trustedKeys = null;

function show(report, source) {
  const rows = (pairs) => '<dl>' + pairs.map(([k, v]) => `<dt>${k}</dt><dd>${escape(String(v ?? '-'))}</dd>`).join('') + '</dl>';
  if (report.ok) {
    result.className = 'ok';
    result.innerHTML = `<h2>Verified: the chain is intact</h2>` + rows([
      ['bundle', source], ['chain', report.chain], ['entries', report.entries],
      ['sequences', `${report.first_sequence}..${report.last_sequence}`], ['checkpoints', report.checkpoints],
      ['keys', report.keys_trusted ? 'trusted keys supplied by you' : "the bundle's own keys (integrity only)"],
      ['head hash', report.head_hash], ['pruned through', report.pruned_through],
    ]);
    document.title = 'verified';
  } else {
    const b = report.break;
    result.className = 'broken';
    result.innerHTML = `<h2>Broken: ${escape(b.kind)} at sequence ${b.sequence ?? '?'}</h2>` + rows([
      ['bundle', source], ['chain', report.chain], ['first break', b.kind], ['sequence', b.sequence],
      ['bundle line', b.line], ['detail', b.detail], ['read before the break', `${report.entries} entries, ${report.checkpoints} checkpoints`],
    ]);
    document.title = `broken: ${b.kind} at ${b.sequence}`;
  }
}

function escape(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function verify(bytes, source, checkpoints) {
  try {
    show(auditVerifyBundle(bytes, trustedKeys, checkpoints ?? null), source);
  } catch (e) {
    result.className = 'broken';
    result.textContent = `error ${e.code ?? ''}: ${e.message}`;
    document.title = `error: ${e.code ?? e.message}`;
  }
}

await init();
document.getElementById('keys').addEventListener('change', async (ev) => {
  const f = ev.target.files[0];
  // a JSON list of keys, or the document `breeze-server audit keys --json` prints
  const doc = f ? JSON.parse(await f.text()) : null;
  trustedKeys = doc === null || Array.isArray(doc) ? doc : (doc.trusted_keys ?? null);
});
document.getElementById('file').addEventListener('change', async (ev) => {
  const f = ev.target.files[0];
  if (f) verify(new Uint8Array(await f.arrayBuffer()), f.name);
});

const params = new URLSearchParams(location.search);
if (params.has('sample')) {
  const v = await (await fetch('../../vectors/audit/chain.json')).json();
  verify(new TextEncoder().encode(v[params.get('sample')].bundle), `sample ${params.get('sample')}`);
} else if (params.has('tampered')) {
  const v = await (await fetch('../../vectors/audit/tampered.json')).json();
  const c = v.cases.find((x) => x.name === params.get('tampered'));
  if (c) verify(new TextEncoder().encode(c.bundle), `tampered ${c.name}`, c.trusted_checkpoints);
}
