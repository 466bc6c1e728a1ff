import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineResource } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { mcpHeaders, openSession, rpc, startTestLookout } from '../support/lookout.ts';

/*
 * Lookout's own dispatcher on the wire (src/mcp/dispatch.ts): what a session's requests that no tool
 * answers get back, and what a handler's unexpected failure becomes.
 */

const secret = 'db password hunter2 at /srv/internal/config.yml';

describe('the dispatcher', () => {
  let lookout: Lookout & { logLines: string[] };
  let session: string;
  const call = (body: unknown) =>
    rpc(
      lookout.url,
      { jsonrpc: '2.0', ...(body as object) },
      {
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
      },
    );

  before(async () => {
    lookout = await startTestLookout(
      {},
      {
        definitions: [
          defineResource({
            uri: 'test://broken',
            name: 'broken',
            read: () => {
              throw new Error(secret);
            },
          }),
        ],
      },
    );
    session = await openSession(lookout.url);
  });
  after(() => lookout.close());

  it('answers a handler that throws an unexpected error with -32603 and nothing of the error', async () => {
    const reply = await call({ id: 7, method: 'resources/read', params: { uri: 'test://broken' } });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, {
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32603, message: 'Internal error' },
    });
    assert.ok(!reply.text.includes('hunter2') && !reply.text.includes('.ts:'), reply.text);
    // The details go to the server's own log instead.
    const logged = lookout.logLines.find((line) => line.includes('request handler failed'));
    assert.ok(logged?.includes('resources/read') && logged.includes('hunter2'), lookout.logLines.join('\n'));
    // The server stays up and the session keeps working.
    const ping = await call({ id: 8, method: 'ping' });
    assert.deepEqual(ping.body, { jsonrpc: '2.0', id: 8, result: {} });
  });

  it('keeps a catalog error its code, message and data', async () => {
    const reply = await call({ id: 'r', method: 'resources/read', params: { uri: 'test://missing' } });
    const error = (reply.body as { error: { code: number; message: string; data: unknown } }).error;
    assert.equal(error.code, -32602);
    assert.match(error.message, /test:\/\/missing/);
    assert.deepEqual(error.data, { uri: 'test://missing' });
  });

  it('answers a method nobody serves with -32601', async () => {
    const reply = await call({ id: 9, method: 'no/such/method', params: {} });
    assert.deepEqual(reply.body, {
      jsonrpc: '2.0',
      id: 9,
      error: { code: -32601, message: 'Method not found: no/such/method' },
    });
  });

  it('refuses initialize params that are not an initialize request with -32602 naming the field', async () => {
    const res = await fetch(lookout.url, {
      method: 'POST',
      headers: mcpHeaders,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {} },
      }),
    });
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -32602);
    assert.match(body.error.message, /params\.clientInfo/);
  });
});
