import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ListRootsRequestSchema,
  ListRootsResultSchema,
  LoggingMessageNotificationSchema,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { defineTool } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { progressTool } from '../fixtures/slow-tools.ts';
import { connectClient, mcpHeaders, startTestLookout } from '../support/lookout.ts';

// All sessions share one protocol server; these check that nothing of one session reaches another.

const rootsErrors: string[] = [];

/** Asks the client for its roots and answers with the first one. */
const firstRootTool = defineTool({
  name: 'first_root',
  description: 'Asks the client for its roots (roots/list) and returns the first root URI.',
  input: z.object({}),
  handler: async (_args, ctx) => {
    try {
      const { roots } = await ctx.request({ method: 'roots/list' }, ListRootsResultSchema);
      return roots[0]?.uri ?? 'no roots';
    } catch (error) {
      rootsErrors.push((error as Error).message);
      throw error;
    }
  },
});

async function connectRootsClient(url: string, listRoots: (requestId: RequestId) => Promise<string>) {
  const client = new Client({ name: 'roots-client', version: '1.0.0' }, { capabilities: { roots: {} } });
  client.setRequestHandler(ListRootsRequestSchema, async (_request, extra) => ({
    roots: [{ uri: await listRoots(extra.requestId) }],
  }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

function sessionIdOf(client: Client): string {
  return (client.transport as StreamableHTTPClientTransport).sessionId as string;
}

describe('sessions served by one protocol server', () => {
  let lookout: Lookout;

  before(async () => {
    lookout = await startTestLookout({}, { definitions: [progressTool, firstRootTool] });
  });
  after(() => lookout.close());

  it("keeps each session's logging level to itself", async () => {
    const quiet = await connectClient(lookout.url, 'quiet');
    const chatty = await connectClient(lookout.url, 'chatty');
    const heard = { quiet: 0, chatty: 0 };
    quiet.setNotificationHandler(LoggingMessageNotificationSchema, () => {
      heard.quiet++;
    });
    chatty.setNotificationHandler(LoggingMessageNotificationSchema, () => {
      heard.chatty++;
    });
    await quiet.setLoggingLevel('error');
    await chatty.setLoggingLevel('debug');
    await quiet.callTool({ name: 'count', arguments: { n: 2 } });
    await chatty.callTool({ name: 'count', arguments: { n: 2 } });
    assert.deepEqual(heard, { quiet: 0, chatty: 4 });
    await quiet.close();
    await chatty.close();
  });

  it('takes an answer to a request sent to a client only from that session', async () => {
    let asked: (id: RequestId) => void = () => {};
    const askedId = new Promise<RequestId>((resolve) => {
      asked = resolve;
    });
    let answer: (uri: string) => void = () => {};
    const answered = new Promise<string>((resolve) => {
      answer = resolve;
    });
    const asker = await connectRootsClient(lookout.url, (id) => {
      asked(id);
      return answered;
    });
    const other = await connectClient(lookout.url, 'other');
    const call = asker.callTool({ name: 'first_root', arguments: {} });
    const forged = await fetch(lookout.url, {
      method: 'POST',
      headers: { ...mcpHeaders, 'mcp-session-id': sessionIdOf(other), 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: await askedId,
        result: { roots: [{ uri: 'file:///forged' }] },
      }),
    });
    assert.equal(forged.status, 202);
    answer('file:///asker');
    const result = await call;
    assert.deepEqual(result.content, [{ type: 'text', text: 'file:///asker' }]);
    await asker.close();
    await other.close();
  });

  it("fails the server's pending requests to a client when its session ends", async () => {
    let asked: () => void = () => {};
    const askedOnce = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const asker = await connectRootsClient(lookout.url, () => {
      asked();
      return new Promise<string>(() => {});
    });
    const errorsBefore = rootsErrors.length;
    // Answered SESSION_CLOSED as soon as the session ends, possibly before the DELETE is answered.
    const call = assert.rejects(asker.callTool({ name: 'first_root', arguments: {} }), /session closed/i);
    await askedOnce;
    const deleted = await fetch(lookout.url, {
      method: 'DELETE',
      headers: { 'mcp-session-id': sessionIdOf(asker) },
    });
    assert.equal(deleted.status, 200);
    await call;
    while (rootsErrors.length === errorsBefore) await new Promise((r) => setTimeout(r, 5));
    assert.match(rootsErrors.at(-1) as string, /Connection closed/);
    await asker.close();
  });
});
