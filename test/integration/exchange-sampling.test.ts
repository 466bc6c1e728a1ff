import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { hrTimeToMilliseconds, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { Lookout } from '../../src/main.ts';
import { attr, lookoutScope } from '../../src/telemetry/conventions.ts';
import type { TelemetryRuntime } from '../../src/telemetry/runtime.ts';
import { ExchangeSampling, GivenIds } from '../../src/telemetry/sampling/exchange-sampling.ts';
import { AdaptiveSampler, type SamplingRule } from '../../src/telemetry/sampling/sampler.ts';
import { thresholdIn } from '../../src/telemetry/sampling/threshold.ts';
import { version } from '../../src/version.ts';
import { waitTool } from '../fixtures/slow-tools.ts';
import { openSession, rpc, startTestLookout, testConfig } from '../support/lookout.ts';

/** Counts every recording span the SDK starts, whether or not it is ever exported. */
class StartedSpans implements SpanProcessor {
  readonly started: Span[] = [];
  onStart(span: Span): void {
    this.started.push(span);
  }
  onEnd(): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

const slowSeconds = 0.2;

/** A Lookout whose SDK is set up as startSdk sets it up: the adaptive sampler, given ids, early decisions. */
async function startSampled(rules: SamplingRule[], overrides: Record<string, unknown> = {}) {
  const config = testConfig({
    log: { level: 'info', format: 'json' },
    telemetry: { sampling: { rules, keepSlowerThanSeconds: slowSeconds } },
    ...overrides,
  });
  const sampler = new AdaptiveSampler({ ...config.telemetry.sampling, mcpPath: config.mcp.path });
  const ids = new GivenIds();
  const exported = new InMemorySpanExporter();
  const started = new StartedSpans();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new TracerProvider({
      sampler,
      idGenerator: ids,
      spanProcessors: [started, new SimpleSpanProcessor({ exporter: exported })],
    }),
  );
  const runtime: TelemetryRuntime = {
    enabled: true,
    otlpLogs: false,
    exchangeSampling: new ExchangeSampling(sampler, ids, config.telemetry.sampling, lookoutScope(version)),
    sampling: () => ({ keys: sampler.snapshot() }),
    attachLogger: () => {},
    shutdown: async () => {},
  };
  const lookout = await startTestLookout(
    { ...overrides, log: config.log, telemetry: config.telemetry },
    { telemetry: runtime, definitions: [waitTool] },
  );
  return { lookout, exported, started, sampler };
}

function stop(lookout: Lookout | undefined): Promise<void> {
  return (async () => {
    await lookout?.close();
    trace.disable();
    context.disable();
    propagation.disable();
  })();
}

const call = (id: string, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

function accessLine(lookout: { logLines: string[] }, id: string): Record<string, unknown> {
  const line = lookout.logLines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.message === 'mcp request' && l.id === id);
  assert.ok(line, `no access line for ${id}`);
  return line;
}

const startMs = (span: ReadableSpan) => hrTimeToMilliseconds(span.startTime);
const endMs = (span: ReadableSpan) => hrTimeToMilliseconds(span.endTime);

describe('an MCP call not sampled (sampling decided before any span is made)', () => {
  let sampled: Awaited<ReturnType<typeof startSampled>>;
  let session: string;
  before(async () => {
    sampled = await startSampled([{ sample: 'never' }]);
    session = await openSession(sampled.lookout.url);
  });
  after(() => stop(sampled?.lookout));

  it('starts no recording span, and its access line still carries trace and span ids', async () => {
    const before = sampled.started.started.length;
    for (let i = 0; i < 5; i++)
      await rpc(sampled.lookout.url, call(`quiet-${i}`, 'echo', { text: 'a' }), {
        'mcp-session-id': session,
      });
    assert.equal(sampled.started.started.length, before, 'recording spans started for unsampled calls');
    const line = accessLine(sampled.lookout, 'quiet-0');
    assert.match(String(line.trace_id), /^[0-9a-f]{32}$/);
    assert.match(String(line.span_id), /^[0-9a-f]{16}$/);
    assert.notEqual(line.trace_id, '0'.repeat(32));
    assert.equal(line.trace_flags, '00');
    assert.notEqual(accessLine(sampled.lookout, 'quiet-1').trace_id, line.trace_id, 'one trace per call');
  });

  it('that fails is exported all the same: its HTTP and MCP spans, true start times, the ids it logged', async () => {
    const sent = performance.timeOrigin + performance.now();
    await rpc(sampled.lookout.url, call('fails', 'no-such-tool'), { 'mcp-session-id': session });
    const mcp = sampled.exported
      .getFinishedSpans()
      .find((s) => s.attributes[attr.jsonrpcRequestId] === 'fails');
    assert.ok(mcp, 'the failed call was not exported');
    const line = accessLine(sampled.lookout, 'fails');
    assert.equal(mcp.spanContext().traceId, line.trace_id);
    assert.equal(mcp.spanContext().spanId, line.span_id);
    assert.equal(mcp.attributes[attr.errorType], '-32602');
    const http = sampled.exported
      .getFinishedSpans()
      .find((s) => s.spanContext().spanId === mcp.parentSpanContext?.spanId);
    assert.ok(http, 'the HTTP span of the failed call was not exported');
    assert.equal(http.attributes[attr.httpRequestMethod], 'POST');
    assert.equal(http.attributes[attr.httpResponseStatusCode], 200);
    // True start times: the HTTP span from the request's arrival, the MCP span inside it.
    assert.ok(startMs(http) >= sent - 5, 'HTTP span starts before the request was sent');
    assert.ok(startMs(http) <= startMs(mcp), 'HTTP span starts after its MCP span');
    assert.ok(endMs(mcp) <= endMs(http), 'MCP span ends after its HTTP span');
    for (const span of [http, mcp]) assert.equal(thresholdIn(span.spanContext().traceState), 0n);
  });

  it('cancelled from another exchange, logs the ids of its own trace, not those of the exchange that cancelled it', async () => {
    const traceId = 'c0ffee'.padEnd(32, '0');
    const running = rpc(
      sampled.lookout.url,
      {
        ...call('to-cancel', 'wait', { ms: 10_000 }),
        params: {
          name: 'wait',
          arguments: { ms: 10_000 },
          _meta: { traceparent: `00-${traceId}-${'5'.repeat(16)}-00` },
        },
      },
      { 'mcp-session-id': session },
    );
    const deadline = Date.now() + 5000;
    while (sampled.lookout.logLines.every((l) => !l.includes('to-cancel')) && Date.now() < deadline) {
      const cancel = await rpc(
        sampled.lookout.url,
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'to-cancel' } },
        { 'mcp-session-id': session },
      );
      assert.equal(cancel.status, 202);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const line = accessLine(sampled.lookout, 'to-cancel');
    assert.equal(line.outcome, 'cancelled');
    assert.equal(line.trace_id, traceId);
    running.catch(() => {});
  });

  it('that is slow is exported from its true start time', async () => {
    await rpc(sampled.lookout.url, call('slow', 'wait', { ms: slowSeconds * 1000 + 50 }), {
      'mcp-session-id': session,
    });
    const mcp = sampled.exported
      .getFinishedSpans()
      .find((s) => s.attributes[attr.jsonrpcRequestId] === 'slow');
    assert.ok(mcp, 'the slow call was not exported');
    assert.ok(endMs(mcp) - startMs(mcp) >= slowSeconds * 1000, `duration ${endMs(mcp) - startMs(mcp)} ms`);
  });
});

describe('an MCP call sampled by its tool', () => {
  let sampled: Awaited<ReturnType<typeof startSampled>>;
  let session: string;
  before(async () => {
    sampled = await startSampled([{ tool: 'echo', sample: 'always' }, { sample: 'never' }]);
    session = await openSession(sampled.lookout.url, '2025-03-26');
  });
  after(() => stop(sampled?.lookout));

  it('gets its HTTP span from its arrival and the MCP span inside it; a dropped tool gets none', async () => {
    const sent = performance.timeOrigin + performance.now();
    await rpc(sampled.lookout.url, call('kept', 'echo', { text: 'a' }), { 'mcp-session-id': session });
    const before = sampled.started.started.length;
    await rpc(sampled.lookout.url, call('dropped', 'lookout.health'), { 'mcp-session-id': session });
    assert.equal(sampled.started.started.length, before, 'a recording span for a dropped tool');
    const spans = sampled.exported.getFinishedSpans();
    const mcp = spans.find((s) => s.attributes[attr.jsonrpcRequestId] === 'kept');
    assert.ok(mcp);
    const http = spans.find((s) => s.spanContext().spanId === mcp.parentSpanContext?.spanId);
    assert.ok(http);
    assert.equal(http.name, 'POST /mcp');
    assert.ok(startMs(http) >= sent - 5 && startMs(http) <= startMs(mcp));
    assert.equal(thresholdIn(http.spanContext().traceState), 0n, 'probability 1 for an always rule');
    assert.equal(accessLine(sampled.lookout, 'kept').span_id, mcp.spanContext().spanId);
    assert.equal(accessLine(sampled.lookout, 'kept').trace_flags, '01');
    assert.equal(
      spans.find((s) => s.attributes[attr.jsonrpcRequestId] === 'dropped'),
      undefined,
    );
  });

  it('in a batch, one kept request keeps the exchange that carried it', async () => {
    await rpc(
      sampled.lookout.url,
      [call('b-dropped', 'lookout.health'), call('b-kept', 'echo', { text: 'b' })],
      {
        'mcp-session-id': session,
      },
    );
    const spans = sampled.exported.getFinishedSpans();
    const mcp = spans.find((s) => s.attributes[attr.jsonrpcRequestId] === 'b-kept');
    assert.ok(mcp);
    assert.ok(spans.some((s) => s.spanContext().spanId === mcp.parentSpanContext?.spanId));
  });
});

describe('stateless mode', () => {
  let sampled: Awaited<ReturnType<typeof startSampled>>;
  before(async () => {
    sampled = await startSampled([{ method: 'tools/call', sample: 'never' }], { mcp: { stateless: true } });
  });
  after(() => stop(sampled?.lookout));

  it('an unsampled call starts no recording span; a failing one is exported', async () => {
    await rpc(sampled.lookout.url, call('s-quiet', 'echo', { text: 'a' }));
    assert.equal(sampled.started.started.length, 0);
    await rpc(sampled.lookout.url, call('s-fails', 'no-such-tool'));
    const names = sampled.exported.getFinishedSpans().map((s) => s.name);
    assert.deepEqual(names.sort(), ['POST /mcp', 'tools/call no-such-tool']);
  });

  it('an exchange without a request is decided by its route when it ends', async () => {
    sampled.exported.reset();
    const { status } = await rpc(sampled.lookout.url, {
      jsonrpc: '2.0',
      method: 'notifications/initialized',
    });
    assert.equal(status, 202);
    const [http, ...others] = sampled.exported.getFinishedSpans();
    assert.equal(others.length, 0);
    assert.equal(http?.name, 'POST /mcp');
    assert.equal(http?.attributes[attr.httpResponseStatusCode], 202);
    assert.equal(thresholdIn(http?.spanContext().traceState), 0n, 'a rare key: probability 1');
  });
});
