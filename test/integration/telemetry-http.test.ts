import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { Lookout } from '../../src/main.ts';
import { attr, instrumentationScope, metricNames } from '../../src/telemetry/conventions.ts';
import { tracedRequestListener } from '../../src/telemetry/http-server.ts';
import { sdkHistograms } from '../../src/telemetry/own-histograms.ts';
import { mcpHeaders, openSession, rpc, startTestLookout } from '../support/lookout.ts';
import { InMemoryTelemetry } from '../support/telemetry.ts';

const telemetry = new InMemoryTelemetry();
const { spans, reader } = telemetry;

const callerTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const callerSpanId = '00f067aa0ba902b7';

describe('the HTTP server span and http.server.request.duration (in-memory exporters)', () => {
  let lookout: Lookout;
  let base: string;

  before(async () => {
    telemetry.install();
    lookout = await startTestLookout();
    base = new URL('/', lookout.url).toString();
    const session = await openSession(lookout.url);
    await rpc(
      lookout.url,
      {
        jsonrpc: '2.0',
        id: 'plain',
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'a' } },
      },
      { 'mcp-session-id': session },
    );
    await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 'traced', method: 'tools/list' },
      { 'mcp-session-id': session, traceparent: `00-${callerTraceId}-${callerSpanId}-01` },
    );
    await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 'proxied', method: 'ping' },
      {
        'mcp-session-id': session,
        forwarded: 'for="[2001:db8::7]:4711";host=lookout.example:8443;proto=https',
      },
    );
    for (const path of [
      '/health/live',
      '/health/ready',
      '/metrics',
      '/wp-admin/x',
      '/logs?limit=5&token=abc',
    ])
      await (await fetch(new URL(path, base), { headers: mcpHeaders })).text();
  });
  after(async () => {
    await lookout.close();
    telemetry.uninstall();
  });

  const httpSpans = () => spans.getFinishedSpans().filter((s) => s.attributes[attr.urlPath] !== undefined);
  const mcpSpan = (id: string) =>
    spans.getFinishedSpans().find((s) => s.attributes[attr.jsonrpcRequestId] === id) as ReadableSpan;
  const parentOf = (span: ReadableSpan) =>
    httpSpans().find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

  it('wraps each MCP request: POST /mcp, kind SERVER, the semconv attributes, parent of the mcp.server span', () => {
    const http = parentOf(mcpSpan('plain'));
    assert.ok(http);
    assert.equal(http.name, 'POST /mcp');
    assert.equal(http.kind, SpanKind.SERVER);
    assert.equal(http.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(
      {
        method: http.attributes[attr.httpRequestMethod],
        scheme: http.attributes[attr.urlScheme],
        path: http.attributes[attr.urlPath],
        route: http.attributes[attr.httpRoute],
        status: http.attributes[attr.httpResponseStatusCode],
        version: http.attributes[attr.networkProtocolVersion],
        server: http.attributes[attr.serverAddress],
        port: http.attributes[attr.serverPort],
        client: http.attributes[attr.clientAddress],
        peer: http.attributes[attr.networkPeerAddress],
      },
      {
        method: 'POST',
        scheme: 'http',
        path: '/mcp',
        route: '/mcp',
        status: 200,
        version: '1.1',
        server: '127.0.0.1',
        port: lookout.port,
        client: '127.0.0.1',
        peer: '127.0.0.1',
      },
    );
    assert.equal(typeof http.attributes[attr.networkPeerPort], 'number');
  });

  it('continues the trace context of the request headers', () => {
    const http = parentOf(mcpSpan('traced'));
    assert.ok(http);
    assert.equal(http.spanContext().traceId, callerTraceId);
    assert.equal(http.parentSpanContext?.spanId, callerSpanId);
    assert.equal(http.parentSpanContext?.isRemote, true);
  });

  it('names the server and the client a proxy forwarded for', () => {
    const http = parentOf(mcpSpan('proxied'));
    assert.equal(http?.attributes[attr.serverAddress], 'lookout.example');
    assert.equal(http?.attributes[attr.serverPort], 8443);
    assert.equal(http?.attributes[attr.clientAddress], '2001:db8::7');
    assert.equal(http?.attributes[attr.networkPeerAddress], '127.0.0.1');
  });

  it('does not trace probes and scrapes; an unknown path has no route; secrets in the query are masked', () => {
    const paths = httpSpans().map((s) => s.attributes[attr.urlPath]);
    assert.ok(!paths.some((p) => p === '/metrics' || String(p).startsWith('/health/')), paths.join());
    const unknown = httpSpans().find((s) => s.attributes[attr.urlPath] === '/wp-admin/x');
    assert.equal(unknown?.name, 'GET');
    assert.equal(unknown?.attributes[attr.httpResponseStatusCode], 404);
    assert.equal(unknown?.attributes[attr.httpRoute], undefined);
    const logs = httpSpans().find((s) => s.attributes[attr.urlPath] === '/logs');
    assert.equal(logs?.name, 'GET /logs');
    assert.equal(logs?.attributes[attr.urlQuery], 'limit=5&token=***');
  });

  it('marks a 5xx answer as an error: status ERROR, error.type the status code', async () => {
    const server = createServer(
      tracedRequestListener(
        (_req, res) => res.writeHead(503).end(),
        trace.getTracer('test'),
        sdkHistograms(metrics.getMeter('test')),
      ),
    ).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await (await fetch(`http://127.0.0.1:${port}/overloaded`, { method: 'POST' })).text();
    server.close();
    const span = httpSpans().find((s) => s.attributes[attr.urlPath] === '/overloaded');
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.attributes[attr.errorType], '503');
    assert.equal(span?.attributes[attr.httpResponseStatusCode], 503);
  });

  it('records http.server.request.duration by method, route and status, not for probes', async () => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics
      .filter((s) => s.scope.name === instrumentationScope)
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === metricNames.httpServerRequestDuration);
    assert.ok(metric);
    assert.equal(metric.descriptor.unit, 's');
    const count = (route: string | undefined, status: number) =>
      metric.dataPoints
        .filter(
          (p) =>
            p.attributes[attr.httpRoute] === route && p.attributes[attr.httpResponseStatusCode] === status,
        )
        .reduce((n, p) => n + (p.value as { count: number }).count, 0);
    assert.equal(count('/mcp', 200), 4, 'initialize and three requests');
    assert.equal(count(undefined, 404), 1);
    assert.equal(count('/health/live', 200), 0);
    for (const point of metric.dataPoints) {
      assert.equal(point.attributes[attr.httpRequestMethod] !== undefined, true);
      assert.equal(point.attributes[attr.urlPath], undefined, 'paths are not metric labels');
    }
  });
});
