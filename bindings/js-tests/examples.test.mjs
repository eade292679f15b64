// Exercises examples/node-jwt-service with the package under test and the JWT vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { breeze, backendName } from './backend.mjs';
import { load } from './vectors.mjs';
import { createService } from '../../examples/node-jwt-service/service.mjs';

test(`[${backendName}] example node-jwt-service`, async () => {
  const inputs = load('crypto/interop/inputs.json').jwt;
  const access = load('crypto/breeze_generated.json').jwt.find((c) => c.type === 'access' && c.kid);
  const refresh = load('crypto/breeze_generated.json').jwt.find((c) => c.type === 'refresh');
  const ring = { keys: inputs.keys, active: access.kid, legacySecret: inputs.legacySecret };
  const roleId = access.claims.roleId;
  const start = async (role) => {
    const server = createService({ breeze, ring, roleMap: { [roleId]: role }, now: () => access.now });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return server;
  };
  const call = async (server, method, path, token) => {
    const { port } = server.address();
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method, headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return [res.status, await res.json()];
  };

  const viewer = await start('Org Viewer');
  try {
    assert.deepEqual((await call(viewer, 'GET', '/devices', access.token))[0], 200);
    assert.deepEqual(await call(viewer, 'POST', '/scripts/execute', access.token), [403, { error: 'forbidden', permission: 'scripts:execute' }]);
    assert.deepEqual(await call(viewer, 'GET', '/devices'), [401, { error: 'missing_token' }]);
    assert.deepEqual(await call(viewer, 'GET', '/devices', refresh.token), [401, { error: 'wrong_type' }]);
    const forged = access.token.slice(0, -2) + (access.token.endsWith('AA') ? 'BB' : 'AA');
    assert.deepEqual(await call(viewer, 'GET', '/devices', forged), [401, { error: 'bad_signature' }]);
  } finally {
    viewer.close();
  }
  const tech = await start('Org Technician');
  try {
    assert.equal((await call(tech, 'POST', '/scripts/execute', access.token))[0], 200);
  } finally {
    tech.close();
  }
  const unknown = await start('No Such Role');
  try {
    assert.equal((await call(unknown, 'GET', '/devices', access.token))[0], 403);
  } finally {
    unknown.close();
  }
});
