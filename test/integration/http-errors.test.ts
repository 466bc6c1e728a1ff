import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Lookout } from '../../src/main.ts';
import { mcpHeaders, openSession, rpc, startTestLookout } from '../support/lookout.ts';

interface ErrorBody {
  jsonrpc: string;
  id: unknown;
  error: { code: number; message: string; data?: unknown };
}

describe('bad input gets the right status and JSON-RPC error, and the server keeps serving', () => {
  let lookout: Lookout;
  let session: string;

  before(async () => {
    lookout = await startTestLookout({ mcp: { maxBodyBytes: 1024 } });
    session = await openSession(lookout.url);
  });
  after(() => lookout.close());

  const call = (body: unknown, headers: Record<string, string> = {}) =>
    rpc(lookout.url, body, { 'mcp-session-id': session, ...headers });

  const cases: {
    name: string;
    send: () => ReturnType<typeof rpc>;
    status: number;
    code: number;
    id?: unknown;
  }[] = [
    { name: 'malformed JSON', send: () => call('{"jsonrpc":'), status: 400, code: -32700, id: null },
    {
      name: 'not JSON-RPC 2.0',
      send: () => call({ jsonrpc: '1.0', id: 3, method: 'ping' }),
      status: 400,
      code: -32600,
      id: 3,
    },
    {
      name: 'params not an object',
      send: () => call({ jsonrpc: '2.0', id: 4, method: 'ping', params: [1] }),
      status: 400,
      code: -32600,
      id: 4,
    },
    { name: 'empty batch', send: () => call([]), status: 400, code: -32600 },
    {
      name: 'batch in 2025-11-25',
      send: () => call([{ jsonrpc: '2.0', id: 5, method: 'ping' }]),
      status: 400,
      code: -32600,
    },
    {
      name: 'unknown method',
      send: () => call({ jsonrpc: '2.0', id: 6, method: 'no/such' }),
      status: 200,
      code: -32601,
      id: 6,
    },
    {
      name: 'unknown tool',
      send: () =>
        call({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'nope', arguments: {} } }),
      status: 200,
      code: -32602,
      id: 7,
    },
    {
      name: 'tools/call without a name',
      send: () => call({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: {} }),
      status: 200,
      code: -32602,
      id: 8,
    },
    {
      name: 'invalid tool arguments',
      send: () =>
        call({
          jsonrpc: '2.0',
          id: 9,
          method: 'tools/call',
          params: { name: 'echo', arguments: { text: 1 } },
        }),
      status: 200,
      code: -32602,
      id: 9,
    },
    {
      name: 'missing session id',
      send: () => rpc(lookout.url, { jsonrpc: '2.0', id: 10, method: 'ping' }),
      status: 400,
      code: -32600,
    },
    {
      name: 'unknown session id',
      send: () => call({ jsonrpc: '2.0', id: 11, method: 'ping' }, { 'mcp-session-id': 'nope' }),
      status: 404,
      code: -32001,
    },
    {
      name: 'unsupported MCP-Protocol-Version',
      send: () => call({ jsonrpc: '2.0', id: 12, method: 'ping' }, { 'mcp-protocol-version': '1999-01-01' }),
      status: 400,
      code: -32600,
    },
    {
      name: 'wrong Content-Type',
      send: () => call('x', { 'content-type': 'text/plain' }),
      status: 415,
      code: -32600,
    },
    {
      name: 'Accept without SSE',
      send: () => call({ jsonrpc: '2.0', id: 13, method: 'ping' }, { accept: 'application/json' }),
      status: 406,
      code: -32600,
    },
    {
      name: 'body over the limit',
      send: () => call({ jsonrpc: '2.0', id: 14, method: 'ping', params: { pad: 'x'.repeat(2000) } }),
      status: 413,
      code: -32600,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const res = await c.send();
      assert.equal(res.status, c.status, res.text);
      const body = res.body as ErrorBody;
      assert.equal(body.jsonrpc, '2.0');
      assert.equal(body.error.code, c.code, res.text);
      if ('id' in c) assert.equal(body.id, c.id);
      assert.doesNotMatch(res.text, /\bat .+\.(ts|js):\d+/, 'no stack trace');
    });
  }

  it('names the failing argument path', async () => {
    const res = await call({
      jsonrpc: '2.0',
      id: 20,
      method: 'tools/call',
      params: { name: 'echo', arguments: {} },
    });
    const body = res.body as ErrorBody;
    assert.deepEqual(
      (body.error.data as { issues: { path: string }[] }).issues.map((i) => i.path),
      ['text'],
    );
  });

  it('answers a POST of only notifications with 202 and no body', async () => {
    const res = await call({ jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(res.status, 202);
    assert.equal(res.text, '');
  });

  it('refuses other HTTP methods on the endpoint and unknown paths', async () => {
    const put = await fetch(lookout.url, { method: 'PUT', headers: mcpHeaders });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST, DELETE');
    const missing = await fetch(new URL('/nope', lookout.url));
    assert.equal(missing.status, 404);
  });

  it('still serves after all of that', async () => {
    const res = await call({
      jsonrpc: '2.0',
      id: 99,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'ok' } },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      result: { content: [{ type: 'text', text: 'ok' }] },
      jsonrpc: '2.0',
      id: 99,
    });
  });

  it('accepts a batch from a 2025-03-26 session and answers it as an array', async () => {
    const old = await openSession(lookout.url, '2025-03-26');
    const res = await rpc(
      lookout.url,
      [
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'b' } } },
      ],
      { 'mcp-session-id': old },
    );
    assert.equal(res.status, 200);
    const replies = res.body as { id: number }[];
    assert.deepEqual(replies.map((r) => r.id).sort(), [1, 2]);
  });
});

describe('found by the generated bad-input suite', () => {
  let lookout: Lookout;
  before(async () => {
    lookout = await startTestLookout();
  });
  after(() => lookout.close());

  it('refuses DNS names that merely start with 127.', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          lookout.url,
          { method: 'POST', headers: { ...mcpHeaders, ...headers } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.once('error', reject);
        req.end('{"jsonrpc":"2.0","id":1,"method":"ping"}');
      });
    const port = new URL(lookout.url).port;
    assert.equal(await status({ host: `127.0.0.1.evil.example:${port}` }), 403);
    assert.equal(await status({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1.nip.io:${port}` }), 403);
  });

  it('answers a 2025-03-26 batch with an error per invalid entry and replies for the valid ones', async () => {
    const session = await openSession(lookout.url, '2025-03-26');
    const res = await rpc(lookout.url, [{ jsonrpc: '2.0', id: 7, method: 'ping' }, 1], {
      'mcp-session-id': session,
    });
    assert.equal(res.status, 200);
    const replies = res.body as { id: unknown; result?: unknown; error?: { code: number } }[];
    assert.equal(replies.length, 2);
    assert.deepEqual(replies.find((r) => r.id === 7)?.result, {});
    assert.equal(replies.find((r) => r.id === null)?.error?.code, -32600);
    const allBad = await rpc(lookout.url, [1, 2], { 'mcp-session-id': session });
    assert.equal(allBad.status, 200);
    assert.deepEqual(
      (allBad.body as { error: { code: number } }[]).map((r) => r.error.code),
      [-32600, -32600],
    );
  });

  it('takes q=0 in Accept as "not acceptable"', async () => {
    const res = await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { accept: 'application/json, text/event-stream;q=0' },
    );
    assert.equal(res.status, 406);
  });

  it('refuses a Content-Encoding it does not decode with 415', async () => {
    const res = await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { 'content-encoding': 'gzip' },
    );
    assert.equal(res.status, 415);
    assert.match((res.body as { error: { message: string } }).error.message, /Content-Encoding gzip/);
  });
});
