import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  attr,
  instrumentationScope,
  metricNames,
  operationDurationBuckets,
  schemaUrl,
} from '../../src/telemetry/conventions.ts';
import { version } from '../../src/version.ts';
import { freePort } from '../../support/ports.ts';
import { connectClient, openSession, ready, rpc } from '../support/lookout.ts';
import { attribute, OtlpReceiver } from '../support/otlp-receiver.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';
import { waitFor } from '../support/services.ts';

const clientTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const clientSpanId = '00f067aa0ba902b7';

describe('a real Lookout process exports to Prometheus and OTLP at once', () => {
  const receiver = new OtlpReceiver();
  let lookout: LookoutProcess;
  let exitCode: number | null;
  let metricsText = '';
  let samplerStatus: { keys?: { key: string; probability: number; sampled: number }[] } = {};
  const echoCalls = 5;

  before(async () => {
    const endpoint = await receiver.start();
    lookout = await spawnLookout(['--otlp-metrics-interval', '1'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
      OTEL_RESOURCE_ATTRIBUTES: 'team=observability',
    });
    const client = await connectClient(lookout.url);
    for (let i = 0; i < echoCalls; i++) await client.callTool({ name: 'echo', arguments: { text: `n${i}` } });
    await client.callTool({ name: 'no-such-tool', arguments: {} }).catch(() => undefined);
    const status = await client.callTool({ name: 'lookout.telemetry.status', arguments: {} });
    samplerStatus = JSON.parse((status.content as { text: string }[])[0]?.text ?? '{}');
    await client.close();
    const session = await openSession(lookout.url);
    await rpc(
      lookout.url,
      {
        jsonrpc: '2.0',
        id: 'traced',
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { text: 'x' },
          _meta: { traceparent: `00-${clientTraceId}-${clientSpanId}-01` },
        },
      },
      { 'mcp-session-id': session },
    );
    metricsText = await (await fetch(new URL('/metrics', lookout.url))).text();
    // Let one periodic metric export go out, then stop: shutdown flushes traces and logs.
    await new Promise((r) => setTimeout(r, 1500));
    exitCode = await lookout.stop();
  });
  after(() => receiver.close());

  it('shows the head sampler per key in lookout.telemetry.status; a rare key is sampled at 100 %', () => {
    const echo = samplerStatus.keys?.find((k) => k.key === 'tools/call echo');
    assert.ok(echo, JSON.stringify(samplerStatus));
    assert.equal(echo.probability, 1);
    assert.equal(echo.sampled, echoCalls);
    assert.match(
      metricsText,
      /lookout_sampler_probability\{[^}]*lookout_sampler_key="tools\/call echo"[^}]*\} 1/,
    );
    assert.match(metricsText, /lookout_sampler_decisions_total\{[^}]*lookout_sampler_decision="sampled"/);
  });

  it('exits 0 after flushing', () => {
    assert.equal(exitCode, 0, lookout.stderr.join(''));
  });

  it('serves the naming contract on /metrics in Prometheus text format', () => {
    assert.match(metricsText, /# TYPE mcp_server_operation_duration histogram/);
    assert.match(metricsText, /# TYPE http_server_request_duration histogram/);
    assert.match(metricsText, /# TYPE nodejs_eventloop_delay_p99 gauge|# TYPE v8js_memory_heap_used gauge/);
    const echoCount = metricsText.match(
      /mcp_server_operation_duration_count\{[^}]*gen_ai_tool_name="echo"[^}]*mcp_method_name="tools\/call"[^}]*\} (\d+)|mcp_server_operation_duration_count\{[^}]*mcp_method_name="tools\/call"[^}]*gen_ai_tool_name="echo"[^}]*\} (\d+)/,
    );
    assert.ok(echoCount, metricsText.slice(0, 2000));
    assert.equal(Number(echoCount[1] ?? echoCount[2]), echoCalls + 1);
    for (const bound of operationDurationBuckets.slice(0, 4)) {
      assert.ok(metricsText.includes(`le="${bound}"`), `bucket ${bound} below 10 ms`);
    }
    assert.doesNotMatch(
      metricsText,
      /mcp_session_id|jsonrpc_request_id/,
      'no session or request ids as labels',
    );
  });

  it('exports mcp.server spans named and attributed per the semantic conventions', () => {
    const echo = receiver.spans.filter((s) => s.name === 'tools/call echo');
    assert.equal(echo.length, echoCalls + 1);
    const span = echo[0];
    assert.ok(span);
    assert.equal(span.kind, 2, 'SPAN_KIND_SERVER');
    assert.equal(attribute(span.attributes, attr.mcpMethodName), 'tools/call');
    assert.equal(attribute(span.attributes, attr.genAiToolName), 'echo');
    assert.equal(attribute(span.attributes, attr.genAiOperationName), 'execute_tool');
    assert.equal(attribute(span.attributes, attr.mcpProtocolVersion), '2025-11-25');
    assert.equal(attribute(span.attributes, attr.networkTransport), 'tcp');
    assert.ok(attribute(span.attributes, attr.mcpSessionId));
    assert.ok(attribute(span.attributes, attr.jsonrpcRequestId) !== undefined);
    const unknown = receiver.spans.find((s) => s.name === 'tools/call no-such-tool');
    assert.equal(attribute(unknown?.attributes, attr.errorType), '-32602');
    assert.equal(unknown?.status?.code, 2, 'STATUS_CODE_ERROR');
  });

  it('parents a span on params._meta.traceparent and links the HTTP span that carried it', () => {
    const traced = receiver.spans.find((s) => attribute(s.attributes, attr.jsonrpcRequestId) === 'traced');
    assert.ok(traced);
    assert.equal(traced.traceId, clientTraceId);
    assert.equal(traced.parentSpanId, clientSpanId);
    const link = traced.links?.[0];
    assert.ok(link, 'a link to the HTTP server span');
    const http = receiver.spans.find((s) => s.spanId === link.spanId);
    assert.ok(http, 'the linked span was exported');
    assert.equal(http.kind, 2);
    assert.match(http.name, /^POST/);
  });

  it('makes other mcp.server spans children of their HTTP server span', () => {
    const span = receiver.spans.find((s) => s.name === 'tools/call echo' && s.traceId !== clientTraceId);
    const parent = receiver.spans.find((s) => s.spanId === span?.parentSpanId);
    assert.ok(parent);
    assert.match(parent.name, /POST/);
    assert.ok(!receiver.spans.some((s) => /\/metrics|\/health/.test(s.name)), '/metrics is not traced');
  });

  it("exports its spans and metrics in one scope, Lookout's, named with its version and the conventions' schema URL", () => {
    const own = receiver.scopes.filter((s) => s.name === instrumentationScope);
    const spanNames = own.filter((s) => s.signal === 'traces').flatMap((s) => s.names);
    const metricNamesSeen = own.filter((s) => s.signal === 'metrics').flatMap((s) => s.names);
    assert.ok(spanNames.includes('tools/call echo'), 'the MCP spans');
    assert.ok(
      spanNames.some((name) => name.startsWith('POST')),
      'the HTTP server spans',
    );
    assert.ok(metricNamesSeen.includes(metricNames.serverOperationDuration), 'the MCP histogram');
    assert.ok(metricNamesSeen.includes(metricNames.telemetryExportedItems), 'the export counters');
    for (const scope of own) {
      assert.equal(scope.version, version, `${scope.signal}: ${scope.names.join(', ')}`);
      assert.equal(scope.schemaUrl, schemaUrl, `${scope.signal}: ${scope.names.join(', ')}`);
    }
  });

  it('carries the resource: service name, version, instance id, environment, and OTEL_RESOURCE_ATTRIBUTES', () => {
    const resource = receiver.resources[0];
    assert.equal(attribute(resource, 'service.name'), 'lookout');
    assert.ok(attribute(resource, 'service.version'));
    assert.ok(attribute(resource, 'service.instance.id'));
    assert.equal(attribute(resource, 'deployment.environment.name'), 'development');
    assert.equal(attribute(resource, 'team'), 'observability');
  });

  it('pushes the MCP operation histogram over OTLP with counts equal to the calls made', () => {
    const metric = receiver.lastMetric(metricNames.serverOperationDuration);
    const point = metric?.histogram?.dataPoints.find(
      (p) =>
        attribute(p.attributes, attr.genAiToolName) === 'echo' &&
        attribute(p.attributes, attr.mcpMethodName) === 'tools/call',
    );
    assert.ok(point, 'an echo data point');
    assert.equal(Number(point.count), echoCalls + 1);
    const unknown = metric?.histogram?.dataPoints.find(
      (p) => attribute(p.attributes, attr.genAiToolName) === '_OTHER',
    );
    assert.ok(unknown, 'an unknown tool is recorded as _OTHER');
  });

  it('exports winston log records over OTLP with the ids of the span they were written in', () => {
    const access = receiver.logs.filter((l) => l.body?.stringValue === 'mcp request');
    assert.ok(access.length >= echoCalls);
    for (const record of access) assert.match(record.traceId ?? '', /^[0-9a-f]{32}$/);
    const traced = access.find((l) => l.traceId === clientTraceId);
    assert.ok(traced, 'the access line of the _meta-parented call is in its trace');
  });

  it('stamps trace_id, span_id and trace_flags on every stdout line written inside a request', () => {
    const records = lookout.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const insideRequests = records.filter((r) => r.message === 'mcp request');
    assert.ok(insideRequests.length >= echoCalls + 2);
    for (const r of insideRequests) {
      assert.match(String(r.trace_id), /^[0-9a-f]{32}$/);
      assert.match(String(r.span_id), /^[0-9a-f]{16}$/);
      assert.equal(r.trace_flags, '01');
    }
    const exportedIds = new Set(receiver.spans.map((s) => s.spanId));
    for (const r of insideRequests)
      assert.ok(exportedIds.has(String(r.span_id)), 'the line names an exported span');
  });
});

describe('OTLP export batches: 128 items unless OTEL_BSP_* / OTEL_BLRP_* say otherwise', () => {
  const tenMinutes = String(600_000);
  // Each call makes two spans and an access line: 130 calls fill more than one batch of 128 of either.
  const cases = [
    { name: 'a batch size of 2 from the environment', batchSize: 2, calls: 4, env: { size: '2' } },
    { name: "Lookout's default of 128", batchSize: 128, calls: 130, env: {} },
    {
      name: 'the default with a standard sampler (OTEL_TRACES_SAMPLER)',
      batchSize: 128,
      calls: 130,
      env: { OTEL_TRACES_SAMPLER: 'always_on' },
    },
  ];
  // Every trace sampled, so that the spans of 130 calls of one tool fill a batch.
  const dir = mkdtempSync(join(tmpdir(), 'lookout-batches-'));
  const config = join(dir, 'lookout.yaml');
  writeFileSync(config, 'telemetry:\n  sampling:\n    rules:\n      - sample: always\n');
  for (const { name, batchSize, calls, env } of cases) {
    it(`${name}: full batches go out at once, none larger`, async () => {
      const receiver = new OtlpReceiver();
      const endpoint = await receiver.start();
      const { size, ...rest } = env as { size?: string; OTEL_TRACES_SAMPLER?: string };
      const lookout = await spawnLookout(['--config', config], {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        // Only a full batch can leave before shutdown: the scheduled delay is ten minutes.
        OTEL_BSP_SCHEDULE_DELAY: tenMinutes,
        OTEL_BLRP_SCHEDULE_DELAY: tenMinutes,
        ...(size && { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: size, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: size }),
        ...rest,
      });
      try {
        const client = await connectClient(lookout.url);
        for (let i = 0; i < calls; i++) await client.callTool({ name: 'echo', arguments: { text: `n${i}` } });
        await client.close();
        await waitFor('a full batch of spans and of log records before shutdown', async () =>
          receiver.spans.length >= batchSize && receiver.logs.length >= batchSize ? true : undefined,
        );
      } finally {
        assert.equal(await lookout.stop(), 0);
        await receiver.close();
      }
      for (const signal of ['traces', 'logs'] as const) {
        const sizes = receiver.batchSizes[signal];
        assert.equal(sizes[0], batchSize, `${signal} batch sizes ${sizes.join(', ')}`);
        assert.ok(
          sizes.every((n) => n >= 1 && n <= batchSize),
          `${signal} batch sizes ${sizes.join(', ')}`,
        );
      }
    });
  }
});

describe('a full log record queue', () => {
  it('drops what does not fit and counts it in the SDK metrics', async () => {
    // A collector that accepts connections and never answers: each export hangs until its timeout.
    const silent = createServer(() => {}).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const lookout = await spawnLookout([], {
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1/logs`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
      OTEL_BLRP_MAX_QUEUE_SIZE: '4',
      OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '4',
    });
    try {
      const client = await connectClient(lookout.url);
      for (let i = 0; i < 20; i++) await client.callTool({ name: 'echo', arguments: { text: `n${i}` } });
      await client.close();
      const metrics = await (await fetch(new URL('/metrics', lookout.url))).text();
      const dropped = metrics.match(
        /^otel_sdk_processor_log_processed_total\{[^}]*error_type="queue_full"[^}]*\} (\d+)/m,
      );
      assert.ok(Number(dropped?.[1]) >= 8, `dropped log records counted: ${dropped?.[0]}`);
      assert.match(metrics, /^otel_sdk_processor_log_queue_capacity\{[^}]*\} 4$/m);
    } finally {
      assert.equal(await lookout.stop(), 0);
      silent.closeAllConnections();
      silent.close();
    }
  });
});

describe('sampling rules from the config file reach the exported traces', () => {
  it('a never rule drops the whole exchange of that tool; other tools are exported', async () => {
    const receiver = new OtlpReceiver();
    const endpoint = await receiver.start();
    const dir = mkdtempSync(join(tmpdir(), 'lookout-sampling-'));
    const config = join(dir, 'lookout.yaml');
    writeFileSync(config, 'telemetry:\n  sampling:\n    rules:\n      - tool: echo\n        sample: never\n');
    const lookout = await spawnLookout(['--config', config], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const client = await connectClient(lookout.url);
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'echo', arguments: { text: 'dropped' } });
    await client.callTool({ name: 'lookout.health', arguments: {} });
    await client.close();
    assert.equal(await lookout.stop(), 0);
    await receiver.close();
    assert.equal(receiver.spans.filter((s) => s.name === 'tools/call echo').length, 0);
    const health = receiver.spans.find((s) => s.name === 'tools/call lookout.health');
    assert.ok(health, 'the other tool is exported');
    const healthTrace = receiver.spans.filter((s) => s.traceId === health.traceId).map((s) => s.name);
    assert.ok(
      healthTrace.some((n) => n.startsWith('POST')),
      'with the HTTP span that carried it',
    );
    const echoLines = lookout.lines
      .map((l) => JSON.parse(l) as { target?: string; trace_id?: string })
      .filter((r) => r.target === 'echo');
    assert.equal(echoLines.length, 3, 'access lines are written whatever is sampled');
    for (const line of echoLines) {
      const leaked = receiver.spans.filter((s) => s.traceId === line.trace_id).map((s) => s.name);
      assert.deepEqual(leaked, [], 'no span of a dropped trace was exported');
    }
  });
});

describe('a tool module that imports node:http', () => {
  it("passes the trace on in its outgoing requests' traceparent", async () => {
    const seen: (string | undefined)[] = [];
    const downstream = createServer((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      res.end('ok');
    }).listen(0, '127.0.0.1');
    await once(downstream, 'listening');
    const url = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}/`;
    const dir = mkdtempSync(join(tmpdir(), 'lookout-outgoing-'));
    const zod = pathToFileURL(createRequire(import.meta.url).resolve('zod')).href;
    const api = new URL('../../src/index.ts', import.meta.url).href;
    const modulePath = join(dir, 'outgoing-tools.ts');
    writeFileSync(
      modulePath,
      [
        "import { request } from 'node:http';",
        `import { z } from '${zod}';`,
        `import { defineTool } from '${api}';`,
        'export const downstream = defineTool({',
        "  name: 'downstream', description: 'GETs a URL with node:http.', input: z.object({ url: z.string() }),",
        '  handler: ({ url }) => new Promise<string>((resolve, reject) => {',
        "    request(url, (res) => { res.resume(); res.on('end', () => resolve(String(res.statusCode))); }).on('error', reject).end();",
        '  }),',
        '});',
        '',
      ].join('\n'),
    );
    const config = join(dir, 'lookout.yaml');
    writeFileSync(config, `tools: [${modulePath}]\nlog: { level: info }\n`);
    const lookout = await spawnLookout(['--config', config]);
    try {
      const client = await connectClient(lookout.url);
      const result = await client.callTool({ name: 'downstream', arguments: { url } });
      assert.deepEqual(result.content, [{ type: 'text', text: '200' }]);
      await client.close();
    } finally {
      assert.equal(await lookout.stop(), 0);
      downstream.close();
    }
    const access = lookout.lines
      .map((l) => JSON.parse(l) as { target?: string; trace_id?: string })
      .find((r) => r.target === 'downstream');
    assert.ok(access?.trace_id);
    assert.match(seen[0] ?? '', new RegExp(`^00-${access.trace_id}-[0-9a-f]{16}-01$`));
  });
});

describe('a real Lookout process calling an HTTP upstream', () => {
  it('makes one HTTP client span per POST, under the mcp.client span, with the URL secrets masked', async () => {
    const receiver = new OtlpReceiver();
    const endpoint = await receiver.start();
    const port = await freePort();
    const fixture = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));
    const upstream = spawn(process.execPath, [fixture, '--http', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve) =>
      upstream.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
    );
    const dir = mkdtempSync(join(tmpdir(), 'lookout-http-upstream-'));
    const config = join(dir, 'lookout.yaml');
    const url = `http://127.0.0.1:${port}/mcp?token=s3cret&region=eu`;
    writeFileSync(config, `upstreams:\n  - { name: fxh, transport: http, url: "${url}", required: true }\n`);
    try {
      const lookout = await spawnLookout(['--config', config], {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      });
      await ready(lookout.url);
      const client = await connectClient(lookout.url);
      await client.callTool({ name: 'fxh__report_meta', arguments: {} });
      await client.close();
      assert.equal(await lookout.stop(), 0);
    } finally {
      upstream.kill();
      receiver.close();
    }
    const mcpClient = receiver.spans.find((s) => s.name === 'tools/call report_meta');
    assert.ok(mcpClient);
    // One each: a second would be the `http` instrumentation's, which must leave these requests alone.
    const http = receiver.spans.filter((s) => s.parentSpanId === mcpClient.spanId);
    assert.equal(http.length, 1, http.map((s) => s.name).join(', '));
    const [span] = http;
    assert.equal(span?.kind, 3, 'SPAN_KIND_CLIENT');
    assert.equal(span?.name, 'POST');
    assert.equal(attribute(span?.attributes, attr.httpResponseStatusCode), 200);
    assert.equal(
      attribute(span?.attributes, attr.urlFull),
      `http://127.0.0.1:${port}/mcp?token=***&region=eu`,
    );
  });
});
