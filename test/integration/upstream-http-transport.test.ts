import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { UpstreamHttpTransport } from '../../src/upstreams/http-transport.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, parsedBody?: unknown) => void;

/** An HTTP server on a loopback port; every request's method and Last-Event-ID is recorded. */
async function listen(handler: Handler): Promise<{ url: URL; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.headers['last-event-id'] ?? ''}`.trim());
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: new URL(`http://127.0.0.1:${port}/mcp`), seen, server };
}

/** The SDK's own server: `echo`, and `resumable`, which drops its response stream before it answers. */
function sdkServer(options: { json: boolean }): Handler {
  const mcp = new McpServer({ name: 'upstream', version: '1.0.0' });
  mcp.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  mcp.registerTool('resumable', { inputSchema: {} }, async (_args, extra) => {
    extra.closeSSEStream?.();
    await new Promise((r) => setTimeout(r, 100));
    return { content: [{ type: 'text', text: 'answered after the stream was resumed' }] };
  });
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: options.json,
    ...(!options.json && { eventStore: new InMemoryEventStore(), retryInterval: 20 }),
  });
  const connected = mcp.connect(transport);
  return (req, res, parsedBody) => void connected.then(() => transport.handleRequest(req, res, parsedBody));
}

const text = (result: Record<string, unknown>) =>
  (result.content as { text: string }[] | undefined)?.[0]?.text;

describe('upstream HTTP transport (against the SDK server)', () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.closeAllConnections();
    for (const server of servers) server.close();
  });

  async function connect(handler: Handler) {
    const { url, seen, server } = await listen(handler);
    servers.push(server);
    const transport = new UpstreamHttpTransport(url, { 'x-upstream-key': 'k' });
    const client = new Client({ name: 'test', version: '0' });
    await client.connect(transport);
    return { client, transport, seen };
  }

  it('takes JSON responses and keeps the session and protocol version on every request', async () => {
    const { client, transport } = await connect(sdkServer({ json: true }));
    assert.ok(transport.sessionId, 'the session id from initialize is kept');
    assert.equal(transport.protocolVersion, LATEST_PROTOCOL_VERSION);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'as json' } })), 'as json');
    await client.close();
  });

  it('resumes a response stream the server closed, from its last event id, and gets the answer', async () => {
    const { client, seen } = await connect(sdkServer({ json: false }));
    assert.equal(
      text(await client.callTool({ name: 'resumable', arguments: {} }, undefined, { timeout: 5000 })),
      'answered after the stream was resumed',
    );
    assert.ok(
      seen.some((s) => /^GET \S+/.test(s)),
      `a GET with Last-Event-ID followed (requests: ${seen.join(', ')})`,
    );
    assert.equal(
      text(await client.callTool({ name: 'echo', arguments: { text: 'still there' } })),
      'still there',
    );
    await client.close();
  });

  it('reports an error status with its code and the body', async () => {
    let calls = 0;
    const { url, server } = await listen((_req, res) => {
      calls++;
      res.writeHead(401, { 'content-type': 'text/plain' }).end('missing token');
    });
    servers.push(server);
    const transport = new UpstreamHttpTransport(url);
    const client = new Client({ name: 'test', version: '0' });
    await assert.rejects(client.connect(transport), (error: Error & { code?: number }) => {
      assert.equal(error.code, 401);
      assert.match(error.message, /Error POSTing to endpoint: missing token/);
      return true;
    });
    assert.equal(calls, 1);
  });

  it('closes when the upstream no longer knows the session (a restarted server), so its owner reconnects', async () => {
    let handler = sdkServer({ json: true });
    const { client, seen } = await connect((req, res) => handler(req, res));
    let closed = false;
    client.onclose = () => {
      closed = true;
    };
    handler = sdkServer({ json: true });
    await assert.rejects(client.callTool({ name: 'echo', arguments: { text: 'x' } }));
    assert.ok(closed, 'the transport closed');
    assert.ok(!seen.includes('DELETE'), 'no DELETE of a session the upstream no longer has');
  });

  it('ends its session with a DELETE when it closes, so the upstream can forget it', async () => {
    const deleted: (string | undefined)[] = [];
    const sdk = sdkServer({ json: true });
    const { client, transport } = await connect((req, res) => {
      if (req.method === 'DELETE') deleted.push(req.headers['mcp-session-id'] as string | undefined);
      sdk(req, res);
    });
    const sessionId = transport.sessionId;
    assert.ok(sessionId);
    await client.close();
    assert.deepEqual(deleted, [sessionId]);
  });

  it('stays open when the upstream refuses one request (400) but still answers the session', async () => {
    const sdk = sdkServer({ json: true });
    const { client } = await connect((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        if (body.includes('"refuse"')) return void res.writeHead(400).end('refused');
        sdk(req, res, body === '' ? undefined : JSON.parse(body));
      });
    });
    let closed = false;
    client.onclose = () => {
      closed = true;
    };
    await assert.rejects(client.callTool({ name: 'refuse', arguments: {} }), /refused/);
    assert.equal(closed, false);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'still' } })), 'still');
    await client.close();
  });

  it('closes when nothing listens at the upstream any more', async () => {
    const { url, server } = await listen(sdkServer({ json: true }));
    const client = new Client({ name: 'test', version: '0' });
    await client.connect(new UpstreamHttpTransport(url));
    let closed = false;
    client.onclose = () => {
      closed = true;
    };
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(client.callTool({ name: 'echo', arguments: { text: 'x' } }));
    assert.ok(closed, 'the transport closed');
  });

  it('takes a 404 to its first GET as a server without the stream, as a 405, and reports no error', async () => {
    const sdk = sdkServer({ json: true });
    const { client, seen } = await connect((req, res) => {
      if (req.method !== 'GET') return sdk(req, res);
      res.writeHead(404, { 'content-type': 'text/html' }).end('<!DOCTYPE html><pre>Cannot GET /mcp</pre>');
    });
    const errors: Error[] = [];
    client.onerror = (error) => errors.push(error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const result = await client.callTool({ name: 'echo', arguments: { text: 'still served' } });
    assert.equal(text(result), 'still served');
    assert.deepEqual(
      seen.filter((s) => s === 'GET'),
      ['GET'],
      'one GET, not retried',
    );
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
    await client.close();
  });

  it("sends the configured headers, the session's id and the negotiated version", async () => {
    let last: IncomingMessage['headers'] = {};
    const sdk = sdkServer({ json: true });
    const { client, transport } = await connect((req, res) => {
      last = req.headers;
      sdk(req, res);
    });
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    assert.equal(last['x-upstream-key'], 'k');
    assert.equal(last['mcp-session-id'], transport.sessionId);
    assert.equal(last['mcp-protocol-version'], LATEST_PROTOCOL_VERSION);
    await client.close();
  });
});
