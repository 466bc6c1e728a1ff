import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { metrics, SpanKind, trace } from '@opentelemetry/api';
import type { HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { HttpClientTelemetry, httpTarget } from '../../src/telemetry/http-client.ts';
import { sdkHistograms } from '../../src/telemetry/own-histograms.ts';
import { InMemoryTelemetry } from '../support/telemetry.ts';

const telemetry = new InMemoryTelemetry();
before(() => telemetry.install());
after(() => telemetry.uninstall());

/** `http.client.request.duration` points: their attributes and counts. */
async function durationPoints(): Promise<{ attributes: Record<string, unknown>; count: number }[]> {
  const { resourceMetrics } = await telemetry.reader.collect();
  const metric = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === 'http.client.request.duration') as HistogramMetricData | undefined;
  return (metric?.dataPoints ?? []).map((p) => ({ attributes: { ...p.attributes }, count: p.value.count }));
}

it('gives each request its own span and a duration point by method, status and error type', async () => {
  const client = new HttpClientTelemetry(trace.getTracer('test'), sdkHistograms(metrics.getMeter('test')));
  const target = httpTarget(new URL('http://127.0.0.1:8080/mcp?token=s3cret'));
  const send = (status: number | undefined, error?: NodeJS.ErrnoException) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    const request = client.request('POST', target, headers);
    if (status !== undefined) request.responded(status);
    request.end(error);
    request.end();
    return headers;
  };
  const headers = send(200);
  send(200);
  send(503);
  send(undefined, Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));

  const spans = telemetry.spans.getFinishedSpans();
  assert.equal(spans.length, 4, 'one span per request, ended once');
  const [first] = spans;
  assert.equal(first?.kind, SpanKind.CLIENT);
  assert.equal(first?.name, 'POST');
  assert.equal(headers.accept, 'application/json', 'the headers keep what they had');
  assert.equal(
    headers.traceparent,
    `00-${first?.spanContext().traceId}-${first?.spanContext().spanId}-01`,
    'and carry the span',
  );
  assert.deepEqual(
    spans.map((s) => [s.attributes['http.response.status_code'], s.attributes['error.type']]),
    [
      [200, undefined],
      [200, undefined],
      [503, '503'],
      [undefined, 'ECONNREFUSED'],
    ],
  );
  assert.equal(spans[0]?.attributes['url.full'], 'http://127.0.0.1:8080/mcp?token=***');

  const base = { 'http.request.method': 'POST', 'server.address': '127.0.0.1', 'server.port': 8080 };
  const points = await durationPoints();
  assert.deepEqual(
    points.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    [
      { attributes: { ...base, 'error.type': 'ECONNREFUSED' }, count: 1 },
      { attributes: { ...base, 'http.response.status_code': 200 }, count: 2 },
      { attributes: { ...base, 'http.response.status_code': 503, 'error.type': '503' }, count: 1 },
    ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  );
});
