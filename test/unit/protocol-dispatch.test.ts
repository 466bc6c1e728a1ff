import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createProtocolServer } from '../../src/mcp/server.ts';
import { Catalog } from '../../src/tools/catalog.ts';

it('the SDK protocol server still has the dispatch entry points the transport calls directly', () => {
  const server = createProtocolServer(new Catalog(), { name: 't', version: '0' }, new Set(), {
    scopesFor: () => [],
    timeoutSecondsFor: () => 1,
  }) as unknown as Record<string, unknown>;
  for (const name of ['_onrequest', '_onnotification', '_onresponse']) {
    assert.equal(
      typeof server[name],
      'function',
      `${name} is gone: the transport would fall back to the slower onmessage`,
    );
  }
});

it('the SDK protocol server still keeps client capabilities where a restored session puts them', () => {
  const server = createProtocolServer(new Catalog(), { name: 't', version: '0' }, new Set(), {
    scopesFor: () => [],
    timeoutSecondsFor: () => 1,
  });
  const capabilities = { sampling: {} };
  Object.assign(server, { _clientCapabilities: capabilities, _clientVersion: { name: 'c', version: '1' } });
  assert.equal(
    server.getClientCapabilities(),
    capabilities,
    'sessions restored on another replica would lose them',
  );
  assert.deepEqual(server.getClientVersion(), { name: 'c', version: '1' });
});
