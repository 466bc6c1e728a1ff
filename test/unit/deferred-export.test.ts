import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { DeferredRootProcessor } from '../../src/telemetry/sampling/deferred-export.ts';
import { ProvisionalRoots } from '../../src/telemetry/sampling/provisional.ts';
import { AdaptiveSampler, type SamplingRule } from '../../src/telemetry/sampling/sampler.ts';
import { thresholdIn } from '../../src/telemetry/sampling/threshold.ts';

function pipeline(rules: SamplingRule[], keepOutcome?: (span: ReadableSpan) => boolean) {
  const roots = new ProvisionalRoots();
  const sampler = new AdaptiveSampler(
    {
      targetPerSecond: 10,
      globalCeilingPerSecond: 100,
      floorProbability: 0.001,
      burst: 5,
      windowSeconds: 10,
      maxKeys: 50,
      rules,
      mcpPath: '/mcp',
    },
    roots,
  );
  const exporter = new InMemorySpanExporter();
  const deferred = new DeferredRootProcessor(
    roots,
    (root) => sampler.decideExchange(root.spanContext().traceId),
    keepOutcome,
  );
  deferred.attach(new SimpleSpanProcessor({ exporter }));
  const tracer = new TracerProvider({ sampler, spanProcessors: [deferred] }).getTracer('test');
  return { tracer, exporter, roots };
}

/** One POST /mcp exchange as the instrumentations make it: HTTP span, a framework span, then the MCP span. */
/** The HTTP server span of a POST /mcp, as the HTTP instrumentation starts it. */
function startExchange(tracer: ReturnType<typeof pipeline>['tracer']) {
  const http = tracer.startSpan(
    'POST',
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/mcp' } },
    ROOT_CONTEXT,
  );
  return { http, httpContext: trace.setSpan(ROOT_CONTEXT, http) };
}

function exchange(tracer: ReturnType<typeof pipeline>['tracer'], tool: string | undefined): void {
  const { http, httpContext } = startExchange(tracer);
  const handler = tracer.startSpan('request handler', {}, httpContext);
  handler.end();
  if (tool !== undefined) {
    const mcp = tracer.startSpan(
      `tools/call ${tool}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': tool },
      },
      httpContext,
    );
    const inner = tracer.startSpan('upstream call', {}, trace.setSpan(context.active(), mcp));
    inner.end();
    mcp.end();
  }
  http.end();
}

describe('deferred export of provisional HTTP roots', () => {
  it('holds a framework span that ends after its HTTP span to the same decision', () => {
    for (const [rules, expected] of [
      [[{ tool: 'late', sample: 'never' }], []],
      [[], ['POST', 'request handler', 'tools/call late']],
    ] as const) {
      const { tracer, exporter, roots } = pipeline([...rules]);
      const { http, httpContext } = startExchange(tracer);
      const handler = tracer.startSpan('request handler', {}, httpContext);
      tracer
        .startSpan(
          'tools/call late',
          { attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'late' } },
          httpContext,
        )
        .end();
      http.end();
      assert.equal(roots.pending, 1, 'the root waits for its open child');
      handler.end();
      assert.deepEqual(
        exporter
          .getFinishedSpans()
          .map((s) => s.name)
          .sort(),
        expected,
      );
      assert.equal(roots.pending, 0);
    }
  });

  it('drops the whole exchange when its MCP request is not sampled', () => {
    const { tracer, exporter, roots } = pipeline([{ tool: 'noisy', sample: 'never' }]);
    exchange(tracer, 'noisy');
    assert.deepEqual(
      exporter.getFinishedSpans().map((s) => s.name),
      [],
    );
    assert.equal(roots.pending, 0, 'nothing is left behind');
  });

  it('exports the whole exchange, with the threshold of the decision, when its MCP request is sampled', () => {
    const { tracer, exporter, roots } = pipeline([{ tool: 'half', sample: { ratio: 1 } }]);
    exchange(tracer, 'half');
    const names = exporter
      .getFinishedSpans()
      .map((s) => s.name)
      .sort();
    assert.deepEqual(names, ['POST', 'request handler', 'tools/call half', 'upstream call']);
    for (const span of exporter.getFinishedSpans()) {
      assert.equal(thresholdIn(span.spanContext().traceState), 0n, `${span.name} carries th:0`);
    }
    assert.equal(roots.pending, 0);
  });

  it('stamps the held spans themselves: the exporter gets no copies', () => {
    const { tracer, exporter } = pipeline([]);
    const { http, httpContext } = startExchange(tracer);
    tracer
      .startSpan(
        'tools/call x',
        { attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'x' } },
        httpContext,
      )
      .end();
    http.end();
    assert.equal(
      exporter.getFinishedSpans().find((s) => s.name === 'POST'),
      http,
    );
    assert.equal(thresholdIn(http.spanContext().traceState), 0n);
  });

  it('keeps an exchange whose MCP request failed, even when it was not sampled', () => {
    const { tracer, exporter, roots } = pipeline(
      [{ tool: 'flaky', sample: 'never' }],
      (span) => span.attributes['error.type'] !== undefined,
    );
    const { http, httpContext } = startExchange(tracer);
    const mcp = tracer.startSpan(
      'tools/call flaky',
      { attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'flaky' } },
      httpContext,
    );
    mcp.setAttribute('error.type', 'tool_error');
    mcp.end();
    http.end();
    const spans = exporter.getFinishedSpans();
    assert.deepEqual(spans.map((s) => s.name).sort(), ['POST', 'tools/call flaky']);
    for (const span of spans) {
      assert.equal(span.spanContext().traceFlags & TraceFlags.SAMPLED, TraceFlags.SAMPLED);
      assert.equal(thresholdIn(span.spanContext().traceState), 0n);
    }
    assert.equal(roots.pending, 0);
  });

  it('decides an exchange without an MCP request by its route', () => {
    const never = pipeline([{ route: '/mcp', sample: 'never' }]);
    exchange(never.tracer, undefined);
    assert.equal(never.exporter.getFinishedSpans().length, 0);
    const always = pipeline([]);
    exchange(always.tracer, undefined);
    assert.deepEqual(
      always.exporter
        .getFinishedSpans()
        .map((s) => s.name)
        .sort(),
      ['POST', 'request handler'],
    );
  });
});
