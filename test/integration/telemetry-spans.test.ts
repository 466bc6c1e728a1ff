import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { z } from 'zod';
import { defineTool, ToolError } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { attr, metricNames } from '../../src/telemetry/conventions.ts';
import { connectClient, openSession, rpc, startTestLookout } from '../support/lookout.ts';
import { InMemoryTelemetry } from '../support/telemetry.ts';

const telemetry = new InMemoryTelemetry();
const { spans, metricExporter, reader } = telemetry;

const failing = defineTool({
  name: 'fails',
  description: 'Always a tool error.',
  input: z.object({}),
  handler: () => {
    throw new ToolError('nope');
  },
});

describe('mcp.server spans and metrics (in-memory exporters)', () => {
  let lookout: Lookout;

  before(async () => {
    telemetry.install();
    lookout = await startTestLookout({}, { definitions: [failing] });
    const client = await connectClient(lookout.url);
    await client.callTool({ name: 'echo', arguments: { text: 'a' } });
    await client.callTool({ name: 'echo', arguments: { text: 'b' } });
    await client.callTool({ name: 'fails', arguments: {} });
    await client.listTools();
    await client.close();
    const session = await openSession(lookout.url);
    await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 'u', method: 'tools/call', params: { name: 'ghost' } },
      { 'mcp-session-id': session },
    );
    await rpc(lookout.url, { jsonrpc: '2.0', id: 'm', method: 'no/such' }, { 'mcp-session-id': session });
    await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 'p', method: 'tools/call', params: { name: 'echo', arguments: { text: 7 } } },
      { 'mcp-session-id': session },
    );
  });
  after(async () => {
    await lookout.close();
    telemetry.uninstall();
  });

  const named = (name: string) => spans.getFinishedSpans().filter((s) => s.name === name);

  it('a successful tool call: SERVER span, semconv attributes, status unset', () => {
    const [span] = named('tools/call echo');
    assert.ok(span);
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.attributes[attr.mcpMethodName], 'tools/call');
    assert.equal(span.attributes[attr.genAiToolName], 'echo');
    assert.equal(span.attributes[attr.genAiOperationName], 'execute_tool');
    assert.equal(span.attributes[attr.mcpProtocolVersion], '2025-11-25');
    assert.equal(span.attributes[attr.networkTransport], 'tcp');
    assert.equal(span.attributes[attr.networkProtocolName], 'http');
    assert.ok(typeof span.attributes[attr.mcpSessionId] === 'string');
    assert.ok(typeof span.attributes[attr.jsonrpcRequestId] === 'string');
    assert.equal(span.attributes[attr.errorType], undefined);
    assert.equal(span.status.code, SpanStatusCode.UNSET);
  });

  it('records no tool arguments or results unless asked to', () => {
    for (const span of spans.getFinishedSpans()) {
      assert.equal(span.attributes['gen_ai.tool.call.arguments'], undefined);
      assert.equal(span.attributes['gen_ai.tool.call.result'], undefined);
    }
  });

  it('a tool error: error.type tool_error, status ERROR', () => {
    const [span] = named('tools/call fails');
    assert.equal(span?.attributes[attr.errorType], 'tool_error');
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.attributes[attr.rpcResponseStatusCode], undefined);
  });

  it('an unknown tool: error.type and rpc.response.status_code -32602, status ERROR with the message', () => {
    const [span] = named('tools/call ghost');
    assert.equal(span?.attributes[attr.errorType], '-32602');
    assert.equal(span?.attributes[attr.rpcResponseStatusCode], '-32602');
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.match(span?.status.message ?? '', /Unknown tool: ghost/);
  });

  it('a protocol error (unknown method): -32601, span named by the method alone', () => {
    const [span] = named('no/such');
    assert.equal(span?.attributes[attr.errorType], '-32601');
    assert.equal(span?.attributes[attr.jsonrpcRequestId], 'm');
  });

  it('invalid arguments: -32602', () => {
    const span = spans.getFinishedSpans().find((s) => s.attributes[attr.jsonrpcRequestId] === 'p');
    assert.equal(span?.attributes[attr.errorType], '-32602');
  });

  it('spans without a tool target are named by the method', () => {
    assert.equal(named('tools/list').length, 1);
    assert.equal(named('initialize').length, 2);
  });

  it('counts one histogram point per request, per method and tool; unknown tools as _OTHER', async () => {
    await reader.forceFlush();
    const exported = metricExporter.getMetrics().at(-1);
    const metric = exported?.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === metricNames.serverOperationDuration);
    assert.ok(metric);
    assert.equal(metric.dataPointType, DataPointType.HISTOGRAM);
    const count = (method: string, tool?: string) =>
      metric.dataPoints
        .filter(
          (p) =>
            p.attributes[attr.mcpMethodName] === method &&
            (tool === undefined || p.attributes[attr.genAiToolName] === tool),
        )
        .reduce((n, p) => n + (p.value as { count: number }).count, 0);
    assert.equal(count('tools/call', 'echo'), 3, 'two calls and one with invalid arguments');
    assert.equal(count('tools/call', 'fails'), 1);
    assert.equal(count('tools/call', '_OTHER'), 1);
    assert.equal(count('tools/list'), 1);
    assert.equal(count('initialize'), 2);
    assert.equal(count('_OTHER'), 1, 'the unknown method is bounded too');
    for (const point of metric.dataPoints) {
      assert.equal(point.attributes[attr.mcpSessionId], undefined);
      assert.equal(point.attributes[attr.jsonrpcRequestId], undefined);
    }
  });

  it('gives each (method, tool, outcome) its own point, with the outcome attributes and nothing per call', async () => {
    await reader.forceFlush();
    const metric = metricExporter
      .getMetrics()
      .at(-1)
      ?.scopeMetrics.flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === metricNames.serverOperationDuration);
    const echo = (metric?.dataPoints ?? [])
      .filter(
        (p) => p.attributes[attr.genAiToolName] === 'echo' || p.attributes[attr.genAiToolName] === 'fails',
      )
      .map((p): Record<string, unknown> => ({ ...p.attributes, count: (p.value as { count: number }).count }))
      .sort((a, b) => String(a[attr.errorType]).localeCompare(String(b[attr.errorType])));
    const common = {
      [attr.mcpMethodName]: 'tools/call',
      [attr.mcpProtocolVersion]: '2025-11-25',
      [attr.networkTransport]: 'tcp',
      [attr.networkProtocolName]: 'http',
      [attr.genAiOperationName]: 'execute_tool',
    };
    assert.deepEqual(echo, [
      {
        ...common,
        [attr.genAiToolName]: 'echo',
        [attr.errorType]: '-32602',
        [attr.rpcResponseStatusCode]: '-32602',
        count: 1,
      },
      { ...common, [attr.genAiToolName]: 'fails', [attr.errorType]: 'tool_error', count: 1 },
      { ...common, [attr.genAiToolName]: 'echo', count: 2 },
    ]);
  });

  it('when asked, records them redacted, on the span and on the access line', async () => {
    const signup = defineTool({
      name: 'signup',
      description: 'Echoes a sign-up form.',
      input: z.object({ user: z.string(), password: z.string(), card: z.string() }),
      handler: ({ user, card }) => `welcome ${user}, card ${card}`,
    });
    const recording = await startTestLookout(
      {
        log: { level: 'info', format: 'json' },
        telemetry: {
          recordArguments: true,
          recordResults: true,
          redact: { keys: ['user'], patterns: ['\\d{4}-\\d{4}'] },
        },
      },
      { definitions: [signup] },
    );
    try {
      const client = await connectClient(recording.url);
      await client.callTool({
        name: 'signup',
        arguments: { user: 'ada', password: 'hunter2', card: '1234-5678' },
      });
      await client.close();
      const span = spans.getFinishedSpans().find((s) => s.name === 'tools/call signup');
      assert.equal(
        span?.attributes['gen_ai.tool.call.arguments'],
        '{"user":"***","password":"***","card":"***"}',
      );
      assert.equal(
        span?.attributes['gen_ai.tool.call.result'],
        '{"content":[{"type":"text","text":"welcome ada, card ***"}]}',
      );
      const access = recording.logLines.map((l) => JSON.parse(l)).find((r) => r.target === 'signup');
      assert.equal(access.arguments, '{"user":"***","password":"***","card":"***"}');
      assert.ok(!recording.logLines.some((l) => l.includes('hunter2') || l.includes('1234-5678')));
    } finally {
      await recording.close();
    }
  });
});
