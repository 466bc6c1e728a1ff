import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { RequestStates } from '../../src/mcp/request-state.ts';
import { createProtocolServer } from '../../src/mcp/server.ts';
import { TaskStore } from '../../src/mcp/tasks.ts';
import { Catalog } from '../../src/tools/catalog.ts';

it('the SDK protocol server still has the dispatch entry points the router calls directly', () => {
  const server = createProtocolServer(
    new Catalog(),
    { name: 't', version: '0' },
    () => undefined,
    { scopesFor: () => [], timeoutSecondsFor: () => 1 },
    new RequestStates([randomBytes(32)], 60),
    new TaskStore({ ttlMs: 1000, pollIntervalMs: 100, max: 1 }),
  ) as unknown as Record<string, unknown>;
  for (const name of ['_onrequest', '_onnotification', '_onresponse']) {
    assert.equal(
      typeof server[name],
      'function',
      `${name} is gone: the router would fall back to the slower onmessage`,
    );
  }
});
