import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { context, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { AggregationType, MeterProvider } from '@opentelemetry/sdk-metrics';
import { type ReadableSpan, TracerProvider } from '@opentelemetry/sdk-trace';
import { liveAccess } from '../../src/http/admin-access.ts';
import { MetricsWindow, quantile } from '../../src/live/metrics-window.ts';
import type { LiveSnapshot, Snapshots } from '../../src/live/snapshot.ts';
import { SpanRing } from '../../src/live/span-ring.ts';
import { LiveStream } from '../../src/live/stream.ts';
import { createLogging } from '../../src/logging/logger.ts';
import { attr, metricNames, operationDurationBuckets } from '../../src/telemetry/conventions.ts';
import { collectNow, KeptSpans, OnDemandMetricReader } from '../../src/telemetry/live-telemetry.ts';
import { testConfig } from '../support/lookout.ts';

describe('live view access', () => {
  it('is open on loopback without auth, needs the admin scope with auth, and is off elsewhere', () => {
    assert.equal(liveAccess(true, false), 'open');
    assert.equal(liveAccess(true, true), 'admin');
    assert.equal(liveAccess(false, true), 'admin');
    assert.equal(liveAccess(false, false), 'off');
  });
});

describe('live view metrics', () => {
  it('interpolates a quantile inside its bucket, as histogram_quantile does', () => {
    // 10 in (0, 1], 10 in (1, 2], none above.
    assert.equal(quantile(0.5, [1, 2], [10, 10, 0]), 1);
    assert.equal(quantile(0.75, [1, 2], [10, 10, 0]), 1.5);
    assert.equal(quantile(0.99, [1, 2], [0, 0, 4]), 2);
    assert.equal(quantile(0.5, [1, 2], [0, 0, 0]), undefined);
  });

  it('reads the operation histogram on demand: rates between samples, error share and quantiles over the window', async () => {
    const reader = new OnDemandMetricReader();
    const provider = new MeterProvider({
      readers: [reader],
      views: [
        {
          instrumentName: metricNames.serverOperationDuration,
          aggregation: {
            type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
            options: { boundaries: [...operationDurationBuckets] },
          },
        },
      ],
    });
    const histogram = provider.getMeter('test').createHistogram(metricNames.serverOperationDuration);
    const call = { [attr.mcpMethodName]: 'tools/call', [attr.genAiToolName]: 'echo' };
    const window = new MetricsWindow(60);
    for (let i = 0; i < 4; i++) histogram.record(0.003, call);
    const first = window.add(await collectNow(reader), 1_000);
    assert.equal(first[0]?.key, 'tools/call echo');
    assert.equal(first[0]?.ratePerSecond, 0, 'no rate before a second sample');
    for (let i = 0; i < 18; i++) histogram.record(0.003, call);
    histogram.record(0.3, { ...call, [attr.errorType]: 'tool_error' });
    histogram.record(0.3, { ...call, [attr.errorType]: 'tool_error' });
    const [stats] = window.add(await collectNow(reader), 3_000);
    assert.ok(stats);
    assert.equal(stats.ratePerSecond, 10, '20 calls in 2 s');
    assert.equal(stats.calls, 20, 'only the calls since the first sample');
    assert.equal(stats.errorShare, 0.1);
    assert.ok(stats.p50 !== undefined && stats.p50 > 0.0025 && stats.p50 <= 0.005, String(stats.p50));
    assert.ok(stats.p99 !== undefined && stats.p99 > 0.2 && stats.p99 <= 0.5, String(stats.p99));
    await provider.shutdown();
  });
});

describe('live view span ring', () => {
  it('keeps only the sampled spans it is given, bounded, and lists MCP requests newest first with their client', () => {
    const ring = new SpanRing(8);
    const kept = new KeptSpans();
    kept.observe(ring);
    const provider = new TracerProvider({ spanProcessors: [kept] });
    const tracer = provider.getTracer('test');
    const exchange = (target: string, sampled: boolean) => {
      const http = tracer.startSpan('POST /mcp', {
        kind: SpanKind.SERVER,
        attributes: { [attr.clientAddress]: '127.0.0.9' },
      });
      if (!sampled) http.spanContext().traceFlags = TraceFlags.NONE;
      const mcp = tracer.startSpan(
        `tools/call ${target}`,
        {
          kind: SpanKind.SERVER,
          attributes: { [attr.mcpMethodName]: 'tools/call', [attr.genAiToolName]: target },
        },
        trace.setSpan(context.active(), http),
      );
      if (!sampled) mcp.spanContext().traceFlags = TraceFlags.NONE;
      mcp.end();
      http.end();
      return (mcp as unknown as ReadableSpan).spanContext().traceId;
    };
    exchange('first', true);
    const dropped = exchange('dropped', false);
    const last = exchange('last', true);
    const calls = ring.recentCalls(10);
    assert.deepEqual(
      calls.map((c) => [c.target, c.client, c.outcome]),
      [
        ['last', '127.0.0.9', 'ok'],
        ['first', '127.0.0.9', 'ok'],
      ],
    );
    assert.deepEqual(ring.trace(dropped), []);
    assert.deepEqual(
      ring.trace(last).map((s) => s.name),
      ['POST /mcp', 'tools/call last'],
    );
    for (let i = 0; i < 10; i++) exchange(`more${i}`, true);
    assert.equal(ring.recentCalls(100).length, 4, 'eight slots: four exchanges of two spans');
  });
});

/** A response an event stream writes to; only what LiveStream uses. */
class FakeResponse extends EventEmitter {
  readonly written: string[] = [];
  writeHead(): this {
    return this;
  }
  flushHeaders(): void {}
  write(chunk: string): boolean {
    this.written.push(chunk);
    return true;
  }
  end(): void {
    this.emit('close');
  }
}

describe('live view stream', () => {
  it('ticks only while a page is connected, and forgets its window when the last one leaves', async () => {
    let built = 0;
    let resets = 0;
    const snapshots = {
      next: async () => ({ atMs: ++built }) as unknown as LiveSnapshot,
      reset: () => {
        resets++;
      },
    } as unknown as Snapshots;
    const { logger } = createLogging(testConfig());
    const watching: string[] = [];
    const stream = new LiveStream(snapshots, 20, logger, {
      started: () => watching.push('started'),
      stopped: () => watching.push('stopped'),
    });
    assert.equal(stream.running, false);
    const first = new FakeResponse();
    const second = new FakeResponse();
    stream.add(first as unknown as ServerResponse);
    stream.add(second as unknown as ServerResponse);
    assert.equal(stream.running, true);
    assert.deepEqual(watching, ['started']);
    await new Promise((resolve) => setTimeout(resolve, 90));
    assert.ok(built >= 3, `built ${built} snapshots`);
    assert.ok(second.written.length >= 3 && second.written[0]?.startsWith('event: snapshot\n'));
    first.emit('close');
    assert.equal(stream.running, true, 'a page is still open');
    second.emit('close');
    assert.equal(stream.running, false);
    assert.equal(resets, 1);
    assert.deepEqual(watching, ['started', 'stopped']);
    const after = built;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(built, after, 'no snapshot is built while nobody looks');
    const pages = Array.from({ length: 16 }, () => new FakeResponse());
    for (const page of pages) stream.add(page as unknown as ServerResponse);
    assert.equal(stream.full, true, 'sixteen pages at most');
    for (const page of pages) page.emit('close');
    assert.equal(stream.full, false);
    assert.equal(stream.running, false);
  });
});
