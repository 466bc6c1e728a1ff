import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { defineResource, defineTool } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { cancellations, progressTool, waitTool } from '../fixtures/slow-tools.ts';
import { connectClient, openSession, rpc, startTestLookout } from '../support/lookout.ts';

/** The SDK client opens its GET stream in the background: wait until Lookout reports it open. */
async function waitForStandaloneStream(client: Client): Promise<void> {
  const prefix = ((client.transport as StreamableHTTPClientTransport).sessionId as string).slice(0, 8);
  for (let attempt = 0; attempt < 200; attempt++) {
    const result = await client.callTool({ name: 'lookout.sessions', arguments: { limit: 1000 } });
    const text = (result.content as { text: string }[])[0]?.text ?? '{}';
    const { sessions } = JSON.parse(text) as { sessions: { id: string; standaloneStream: boolean }[] };
    if (sessions.some((s) => s.id.startsWith(prefix) && s.standaloneStream)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('standalone stream never opened');
}

describe('MCP endpoint with sessions', () => {
  let lookout: Lookout;

  before(async () => {
    lookout = await startTestLookout({}, { definitions: [progressTool, waitTool] });
  });
  after(() => lookout.close());

  it('initializes, lists tools and calls echo through the SDK client', async () => {
    const client = await connectClient(lookout.url);
    assert.equal(client.getServerVersion()?.name, 'lookout');
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const name of ['echo', 'lookout.health', 'lookout.sessions', 'count', 'wait'])
      assert.ok(names.includes(name), name);
    const echo = tools.find((t) => t.name === 'echo');
    assert.deepEqual(echo?.inputSchema.required, ['text']);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'hello, lookout' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'hello, lookout' }]);
    assert.deepEqual(await client.ping(), {});
    await client.close();
  });

  it('returns structured content validated against the output schema', async () => {
    const client = await connectClient(lookout.url);
    const result = await client.callTool({ name: 'lookout.health', arguments: {} });
    const structured = result.structuredContent as { status: string; sessions: number };
    assert.equal(structured.status, 'ok');
    assert.ok(structured.sessions >= 1);
    await client.close();
  });

  it('streams progress and log notifications over SSE before the result, honouring logging/setLevel', async () => {
    const client = await connectClient(lookout.url);
    const progress: number[] = [];
    const logged: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(n.params.data);
    });
    await client.setLoggingLevel('info');
    const result = await client.callTool({ name: 'count', arguments: { n: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    assert.deepEqual(result.content, [{ type: 'text', text: 'counted to 3' }]);
    assert.deepEqual(progress, [1, 2, 3]);
    assert.deepEqual(
      logged,
      [{ step: 1 }, { step: 2 }, { step: 3 }],
      'debug lines are filtered at level info',
    );
    await client.close();
  });

  it('aborts the handler when the client cancels', async () => {
    const client = await connectClient(lookout.url);
    const controller = new AbortController();
    const before = cancellations.length;
    const call = client.callTool({ name: 'wait', arguments: { ms: 30_000 } }, undefined, {
      signal: controller.signal,
    });
    while (cancellations.length === before) await new Promise((r) => setTimeout(r, 5));
    controller.abort('user gave up');
    await assert.rejects(call);
    const signal = cancellations.at(-1) as AbortSignal;
    while (!signal.aborted) await new Promise((r) => setTimeout(r, 5));
    assert.ok(signal.aborted);
    await client.close();
  });

  it('ends a session on DELETE; the session id then answers 404 with a JSON-RPC error', async () => {
    const sessionId = await openSession(lookout.url);
    const del = await fetch(lookout.url, { method: 'DELETE', headers: { 'mcp-session-id': sessionId } });
    assert.equal(del.status, 200);
    const after = await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { 'mcp-session-id': sessionId },
    );
    assert.equal(after.status, 404);
    assert.deepEqual(after.body, {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32001, message: 'Session not found' },
    });
  });

  it('terminates through the SDK client transport', async () => {
    const client = await connectClient(lookout.url);
    const transport = client.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId as string;
    await transport.terminateSession();
    const after = await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { 'mcp-session-id': sessionId },
    );
    assert.equal(after.status, 404);
  });

  it('tells clients on the standalone GET stream when the tool list changes', async () => {
    const client = await connectClient(lookout.url);
    // The SDK client opens the GET stream after initialization; wait until the server holds it.
    await waitForStandaloneStream(client);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId as string;
    const changed = new Promise<void>((resolve) =>
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
    );
    const second = await fetch(lookout.url, {
      method: 'GET',
      headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId },
    });
    assert.equal(second.status, 409, 'a second standalone stream is refused');
    lookout.register(
      defineTool({
        name: 'late',
        description: 'Registered at run time.',
        input: z.object({}),
        handler: () => 'late',
      }),
    );
    await changed;
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'late'));
    await client.close();
  });

  it('tells subscribed sessions, and only those, that a resource changed', async () => {
    lookout.register(defineResource({ uri: 'test://watched', name: 'watched', read: () => 'v1' }));
    const subscriber = await connectClient(lookout.url);
    const bystander = await connectClient(lookout.url);
    const updates: string[] = [];
    let bystanderUpdates = 0;
    const updated = new Promise<void>((resolve) =>
      subscriber.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
        updates.push(n.params.uri);
        resolve();
      }),
    );
    bystander.setNotificationHandler(ResourceUpdatedNotificationSchema, () => {
      bystanderUpdates++;
    });
    await subscriber.subscribeResource({ uri: 'test://watched' });
    await Promise.all([waitForStandaloneStream(subscriber), waitForStandaloneStream(bystander)]);
    lookout.resourceUpdated('test://watched');
    await updated;
    await bystander.ping();
    assert.deepEqual(updates, ['test://watched']);
    assert.equal(bystanderUpdates, 0);
    await Promise.all([subscriber.close(), bystander.close()]);
  });

  it('answers completion requests', async () => {
    const client = await connectClient(lookout.url);
    await assert.rejects(
      client.complete({ ref: { type: 'ref/prompt', name: 'missing' }, argument: { name: 'x', value: '' } }),
      /Unknown prompt/,
    );
    await client.close();
  });
});

describe('session limits', () => {
  it('expires idle sessions after the TTL', async () => {
    const lookout = await startTestLookout({ mcp: { sessionIdleTtlSeconds: 1 } });
    try {
      const sessionId = await openSession(lookout.url);
      const fresh = await rpc(
        lookout.url,
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { 'mcp-session-id': sessionId },
      );
      assert.equal(fresh.status, 200);
      await new Promise((r) => setTimeout(r, 1700));
      const stale = await rpc(
        lookout.url,
        { jsonrpc: '2.0', id: 2, method: 'ping' },
        { 'mcp-session-id': sessionId },
      );
      assert.equal(stale.status, 404);
      assert.equal((stale.body as { error: { code: number } }).error.code, -32001);
    } finally {
      await lookout.close();
    }
  });

  it('refuses a session past the cap with 503 and Retry-After', async () => {
    const lookout = await startTestLookout({ mcp: { maxSessions: 2 } });
    try {
      await openSession(lookout.url);
      await openSession(lookout.url);
      const res = await rpc(lookout.url, {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal((res.body as { error: { code: number } }).error.code, -32002);
    } finally {
      await lookout.close();
    }
  });
});

describe('stateless mode', () => {
  let lookout: Lookout;
  before(async () => {
    lookout = await startTestLookout({ mcp: { stateless: true } });
  });
  after(() => lookout.close());

  it('serves the SDK client without a session id', async () => {
    const client = await connectClient(lookout.url);
    assert.equal((client.transport as { sessionId?: string }).sessionId, undefined);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'stateless' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'stateless' }]);
    await client.close();
  });

  it('keeps concurrent requests with the same id from different clients apart', async () => {
    const calls = Array.from({ length: 20 }, (_, i) =>
      rpc(lookout.url, {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: `t${i}` } },
      }),
    );
    const results = await Promise.all(calls);
    results.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {
        result: { content: [{ type: 'text', text: `t${i}` }] },
        jsonrpc: '2.0',
        id: 1,
      });
    });
  });

  it('has no standalone stream and no sessions to delete', async () => {
    const get = await fetch(lookout.url, { headers: { accept: 'text/event-stream' } });
    assert.equal(get.status, 405);
    const del = await fetch(lookout.url, { method: 'DELETE' });
    assert.equal(del.status, 405);
  });
});

describe('two Lookouts in one process', () => {
  it('serve independently', async () => {
    const a = await startTestLookout(
      {},
      {
        definitions: [defineTool({ name: 'who', description: 'a', input: z.object({}), handler: () => 'a' })],
      },
    );
    const b = await startTestLookout(
      {},
      {
        definitions: [defineTool({ name: 'who', description: 'b', input: z.object({}), handler: () => 'b' })],
      },
    );
    try {
      assert.notEqual(a.port, b.port);
      const [ca, cb] = await Promise.all([connectClient(a.url), connectClient(b.url)]);
      const [ra, rb] = await Promise.all([ca.callTool({ name: 'who' }), cb.callTool({ name: 'who' })]);
      assert.deepEqual(ra.content, [{ type: 'text', text: 'a' }]);
      assert.deepEqual(rb.content, [{ type: 'text', text: 'b' }]);
      await Promise.all([ca.close(), cb.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
