import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { attr, metricNames } from '../../src/telemetry/conventions.ts';
import { freePort } from '../../support/ports.ts';
import { connectClient } from '../support/lookout.ts';
import { OtlpGrpcReceiver } from '../support/otlp-grpc-receiver.ts';
import { attribute, OtlpReceiver } from '../support/otlp-receiver.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';
import { waitFor } from '../support/services.ts';

async function echoes(url: string, calls = 1): Promise<void> {
  const client = await connectClient(url);
  for (let i = 0; i < calls; i++) await client.callTool({ name: 'echo', arguments: { text: `n${i}` } });
  await client.close();
}

describe('the standard OTEL_* variables take effect in a real Lookout process', () => {
  const main = new OtlpReceiver();
  const tracesOnly = new OtlpReceiver();
  let lookout: LookoutProcess;
  let exportsBeforeStop = 0;
  let exitCode: number | null;

  before(async () => {
    const endpoint = await main.start();
    const tracesEndpoint = await tracesOnly.start();
    // Lookout's own interval option says a minute; the standard variable must win.
    lookout = await spawnLookout(['--otlp-metrics-interval', '60'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${tracesEndpoint}/v1/traces`,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=blue,authorization=Bearer%20all',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20traces',
      OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'gzip',
      OTEL_METRIC_EXPORT_INTERVAL: '250',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'lookout-under-test',
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '5',
    });
    await echoes(lookout.url, 3);
    await waitFor(
      'two periodic metric exports',
      async () => (main.metricExports.length >= 2 ? true : undefined),
      {
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );
    exportsBeforeStop = main.metricExports.length;
    exitCode = await lookout.stop();
  });
  after(async () => {
    await main.close();
    await tracesOnly.close();
  });

  it('exits 0', () => assert.equal(exitCode, 0, lookout.stderr.join('')));

  it('pushes metrics every OTEL_METRIC_EXPORT_INTERVAL ms, over the Lookout option', () => {
    assert.ok(exportsBeforeStop >= 2, `${exportsBeforeStop} metric exports before shutdown`);
  });

  it('exports deltas when OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says so: each call counted once', () => {
    const histograms = main.metricExports
      .flat()
      .filter((m) => m.name === metricNames.serverOperationDuration)
      .map((m) => m.histogram);
    assert.ok(histograms.length > 0, 'mcp.server.operation.duration exported');
    assert.deepEqual(new Set(histograms.map((h) => h?.aggregationTemporality)), new Set([1]));
    const calls = histograms
      .flatMap((h) => h?.dataPoints ?? [])
      .filter((p) => attribute(p.attributes, attr.mcpMethodName) === 'tools/call')
      .reduce((n, p) => n + Number(p.count), 0);
    assert.equal(calls, 3);
  });

  it('sends traces to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the rest to OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    assert.ok(tracesOnly.spans.some((s) => s.name === 'tools/call echo'));
    assert.equal(main.spans.length, 0, 'no span at the general endpoint');
    assert.equal(tracesOnly.logs.length + tracesOnly.metricExports.length, 0, 'only spans at the traces one');
    assert.ok(main.logs.some((l) => l.body?.stringValue === 'mcp request'));
    assert.ok(main.lastMetric(metricNames.serverOperationDuration));
  });

  it('sends OTEL_EXPORTER_OTLP_HEADERS, with the per-signal variable winning for its signal', () => {
    const traces = tracesOnly.requests.filter((r) => r.path === '/v1/traces');
    assert.ok(traces.length > 0);
    for (const r of traces) {
      assert.equal(r.headers.authorization, 'Bearer traces');
      assert.equal(r.headers['x-tenant'], 'blue');
    }
    const others = main.requests.filter((r) => r.path === '/v1/logs' || r.path === '/v1/metrics');
    assert.ok(others.length > 0);
    for (const r of others) assert.equal(r.headers.authorization, 'Bearer all');
  });

  it('compresses what OTEL_EXPORTER_OTLP_LOGS_COMPRESSION=gzip says, and only that', () => {
    const logs = main.requests.filter((r) => r.path === '/v1/logs');
    assert.ok(logs.length > 0);
    for (const r of logs) assert.equal(r.headers['content-encoding'], 'gzip');
    for (const r of main.requests.filter((q) => q.path === '/v1/metrics'))
      assert.equal(r.headers['content-encoding'], undefined);
  });

  it('names the service from OTEL_SERVICE_NAME and cuts span attributes to OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', () => {
    assert.equal(attribute(tracesOnly.resources[0], 'service.name'), 'lookout-under-test');
    const echo = tracesOnly.spans.find((s) => s.name === 'tools/call echo');
    assert.equal(attribute(echo?.attributes, attr.mcpMethodName), 'tools');
  });
});

describe('OTEL_EXPORTER_OTLP_PROTOCOL=grpc', () => {
  it('exports every signal over OTLP/gRPC, with the headers as metadata', async () => {
    const receiver = new OtlpGrpcReceiver();
    const endpoint = await receiver.start();
    const lookout = await spawnLookout([], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=blue',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
    }).catch(async (error: Error) => {
      await receiver.close();
      throw error;
    });
    try {
      await echoes(lookout.url, 2);
      const delivered = (text: string, signal: string) =>
        Number(
          new RegExp(`^lookout_telemetry_exported_total\\{[^}]*="${signal}"[^}]*\\} (\\d+)`, 'm').exec(
            text,
          )?.[1],
        );
      // Counted once the receiver has answered: two calls, two spans and an access line each.
      await waitFor('every signal delivered over gRPC', async () => {
        const text = await (await fetch(new URL('/metrics', lookout.url))).text();
        return delivered(text, 'traces') >= 4 &&
          delivered(text, 'logs') >= 2 &&
          delivered(text, 'metrics') > 0
          ? true
          : undefined;
      });
      assert.ok(Object.values(receiver.requests).every((r) => r.length > 0));
    } finally {
      assert.equal(await lookout.stop(), 0);
      await receiver.close();
    }
    for (const requests of Object.values(receiver.requests))
      for (const r of requests) assert.equal(r.metadata['x-tenant'], 'blue');
  });
});

describe('OTEL_{TRACES,METRICS,LOGS}_EXPORTER', () => {
  it('console: spans, metrics and log records are written to stdout', async () => {
    const lookout = await spawnLookout([], {
      OTEL_TRACES_EXPORTER: 'console',
      OTEL_METRICS_EXPORTER: 'console',
      OTEL_LOGS_EXPORTER: 'console',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
    });
    try {
      await echoes(lookout.url);
      await waitFor('console output of each signal', async () => {
        const out = lookout.lines.join('\n');
        return out.includes("name: 'tools/call echo'") &&
          out.includes(`name: '${metricNames.serverOperationDuration}'`) &&
          out.includes("body: 'mcp request'")
          ? true
          : undefined;
      });
      assert.equal(
        (await fetch(new URL('/metrics', lookout.url))).status,
        404,
        'no Prometheus unless listed',
      );
    } finally {
      assert.equal(await lookout.stop(), 0);
    }
  });

  it('none for one signal leaves the others on; otlp for metrics alone turns the Prometheus default off', async () => {
    const receiver = new OtlpReceiver();
    const endpoint = await receiver.start();
    const lookout = await spawnLookout([], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
    });
    try {
      await echoes(lookout.url);
      assert.equal((await fetch(new URL('/metrics', lookout.url))).status, 404);
    } finally {
      assert.equal(await lookout.stop(), 0);
      await receiver.close();
    }
    assert.equal(receiver.spans.length, 0);
    assert.ok(receiver.logs.some((l) => l.body?.stringValue === 'mcp request'));
    assert.ok(receiver.lastMetric(metricNames.serverOperationDuration), 'metrics pushed at shutdown');
  });

  it('prometheus: /metrics on OTEL_EXPORTER_PROMETHEUS_PORT, even with LOOKOUT_PROMETHEUS=false', async () => {
    const port = await freePort();
    const lookout = await spawnLookout([], {
      LOOKOUT_PROMETHEUS: 'false',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    });
    try {
      await echoes(lookout.url);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(text, /^mcp_server_operation_duration_count\{[^}]*gen_ai_tool_name="echo"[^}]*\} 1$/m);
      assert.equal((await fetch(new URL('/metrics', lookout.url))).status, 404);
    } finally {
      assert.equal(await lookout.stop(), 0);
    }
  });

  it('an exporter Lookout does not have: telemetry off with an error naming the variable, service up', async () => {
    const lookout = await spawnLookout([], { OTEL_METRICS_EXPORTER: 'prometheus,zipkin' });
    try {
      await echoes(lookout.url);
      assert.match(lookout.stderr.join(''), /telemetry disabled: .*OTEL_METRICS_EXPORTER=prometheus,zipkin/);
    } finally {
      assert.equal(await lookout.stop(), 0);
    }
  });
});

describe('OTEL_TRACES_SAMPLER', () => {
  it("a standard sampler's spans are counted in otel.sdk.span.started", async () => {
    const lookout = await spawnLookout([], { OTEL_TRACES_SAMPLER: 'always_off' });
    try {
      await echoes(lookout.url);
      const text = await (await fetch(new URL('/metrics', lookout.url))).text();
      const dropped = text.match(
        /^otel_sdk_span_started_total\{[^}]*otel_span_sampling_result="DROP"[^}]*\} (\d+)/m,
      );
      assert.ok(Number(dropped?.[1]) >= 2, dropped?.[0] ?? text.slice(0, 500));
    } finally {
      assert.equal(await lookout.stop(), 0);
    }
  });
});
