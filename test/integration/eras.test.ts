import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Lookout } from '../../src/main.ts';
import { rpc, startTestLookout } from '../support/lookout.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../conformance/fixtures.ts');
const tool = 'test_input_required_result_elicitation';

function textOf(result: unknown): string {
  return ((result as { content: { text: string }[] }).content[0] as { text: string }).text;
}

/** The envelope and headers of a raw 2026-07-28 request (tools/call unless named). */
function modernCall(
  id: number,
  params: Record<string, unknown>,
  { method = 'tools/call', capabilities = { elicitation: {} } as Record<string, unknown> } = {},
) {
  const name = method === 'tools/call' ? params.name : params.taskId;
  return {
    body: {
      jsonrpc: '2.0',
      id,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': capabilities,
        },
      },
    },
    headers: {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(name !== undefined && { 'mcp-name': String(name) }),
    },
  };
}

describe('both protocol eras on one endpoint', () => {
  let lookout: Lookout;
  before(async () => {
    lookout = await startTestLookout({ tools: [fixtures] });
  });
  after(() => lookout.close());

  for (const [label, mode] of [
    ['pinned to 2026-07-28', { pin: '2026-07-28' }],
    ['in auto mode', 'auto'],
  ] as const) {
    it(`the 2.x SDK client ${label} lists tools and answers an elicitation through InputRequiredResult`, async () => {
      const client = new ModernClient(
        { name: 'modern', version: '1.0.0' },
        { capabilities: { elicitation: {} }, versionNegotiation: { mode } },
      );
      const asked: string[] = [];
      client.setRequestHandler('elicitation/create', async (request) => {
        asked.push(String(request.params.message));
        return { action: 'accept', content: { name: 'Ada' } };
      });
      const transport = new ModernTransport(new URL(lookout.url));
      await client.connect(transport);
      try {
        assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
        assert.equal(transport.sessionId, undefined, 'a modern client has no session');
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === tool));
        const result = await client.callTool({ name: tool, arguments: {} });
        assert.equal(textOf(result), 'Hello, Ada!');
        assert.deepEqual(asked, ['What is your name?']);
      } finally {
        await client.close();
      }
    });
  }

  it('the 1.x SDK client (2025-11-25) gets the same question as a server→client request, in its session', async () => {
    const client = new Client({ name: 'legacy', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: { name: 'Grace' } };
    });
    const transport = new StreamableHTTPClientTransport(new URL(lookout.url));
    await client.connect(transport);
    try {
      assert.equal(transport.protocolVersion, '2025-11-25');
      assert.ok(transport.sessionId, 'a legacy client keeps its session');
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === tool));
      const result = await client.callTool({ name: tool, arguments: {} });
      assert.equal(textOf(result), 'Hello, Grace!');
      assert.deepEqual(asked, ['What is your name?']);
    } finally {
      await client.close();
    }
  });

  it('a 2026-07-28 GET or DELETE gets 405 (no stream, no session); a 2025 GET without a session is refused as before', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(lookout.url, {
        method,
        headers: { accept: 'text/event-stream', 'mcp-protocol-version': '2026-07-28' },
      });
      await res.text();
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
    }
    const legacy = await fetch(lookout.url, {
      headers: { accept: 'text/event-stream', 'mcp-protocol-version': '2025-11-25' },
    });
    await legacy.text();
    assert.equal(legacy.status, 400);
  });

  it('a requestState is refused when altered or replayed on another tool, and accepted as issued', async () => {
    const first = modernCall(1, { name: 'test_input_required_result_multi_round', arguments: {} });
    const round1 = await rpc(lookout.url, first.body, first.headers);
    const irr = (round1.body as { result: { resultType: string; requestState: string } }).result;
    assert.equal(irr.resultType, 'input_required');
    const answer = { step1: { action: 'accept', content: { name: 'Ada' } } };
    const round2 = modernCall(2, {
      name: 'test_input_required_result_multi_round',
      arguments: {},
      inputResponses: answer,
      requestState: irr.requestState,
    });
    const next = await rpc(lookout.url, round2.body, round2.headers);
    const second = (
      next.body as { result: { resultType: string; requestState: string; inputRequests: object } }
    ).result;
    assert.equal(second.resultType, 'input_required');
    assert.deepEqual(Object.keys(second.inputRequests), ['step2']);

    const tampered = `${second.requestState.slice(0, -2)}AA`;
    for (const [name, requestState] of [
      ['test_input_required_result_multi_round', tampered],
      ['test_input_required_result_tampered_state', second.requestState],
      // A tool that never asks still refuses a state that does not verify: it is checked before the tool runs.
      ['test_simple_text', tampered],
    ] as const) {
      const call = modernCall(3, { name, arguments: {}, inputResponses: {}, requestState });
      const refused = await rpc(lookout.url, call.body, call.headers);
      assert.equal((refused.body as { error: { code: number } }).error.code, -32602, refused.text);
    }
    const round3 = modernCall(4, {
      name: 'test_input_required_result_multi_round',
      arguments: {},
      inputResponses: { step2: { action: 'accept', content: { color: 'green' } } },
      requestState: second.requestState,
    });
    const done = await rpc(lookout.url, round3.body, round3.headers);
    const result = (done.body as { result: { resultType: string } }).result;
    assert.equal(result.resultType, 'complete');
    assert.equal(textOf(result), 'Ada likes green');
  });

  it('a task tool with inputBeforeTask asks in rounds of the call, then answers with the task', async () => {
    const capabilities = { elicitation: {}, extensions: { 'io.modelcontextprotocol/tasks': {} } };
    const ask = modernCall(20, { name: 'test_tool_with_task', arguments: {} }, { capabilities });
    const first = (await rpc(lookout.url, ask.body, ask.headers)).body as { result: Record<string, unknown> };
    assert.equal(first.result.resultType, 'input_required');
    assert.equal(first.result.taskId, undefined, 'no task before the input is in');
    assert.deepEqual(Object.keys(first.result.inputRequests as object), ['user_name']);

    const answer = { user_name: { action: 'accept', content: { name: 'Ada' } } };
    const retry = modernCall(
      21,
      {
        name: 'test_tool_with_task',
        arguments: {},
        inputResponses: answer,
        requestState: first.result.requestState,
      },
      { capabilities },
    );
    const second = (await rpc(lookout.url, retry.body, retry.headers)).body as {
      result: Record<string, unknown>;
    };
    assert.equal(second.result.resultType, 'task', JSON.stringify(second));
    assert.equal(second.result.requestState, undefined);
    assert.equal(second.result.inputRequests, undefined);

    const taskId = String(second.result.taskId);
    let task: Record<string, unknown> = {};
    for (let poll = 0; poll < 50 && task.status !== 'completed'; poll++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const get = modernCall(22 + poll, { taskId }, { method: 'tasks/get', capabilities });
      task = ((await rpc(lookout.url, get.body, get.headers)).body as { result: Record<string, unknown> })
        .result;
    }
    assert.equal(task.status, 'completed', JSON.stringify(task));
    assert.equal(textOf(task.result), 'Hello, Ada! (from a task)');
  });
});
