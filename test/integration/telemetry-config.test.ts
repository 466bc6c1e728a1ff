import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { admissionRejections } from '../../src/http/admission.ts';
import { freePort } from '../../support/ports.ts';
import { connectClient } from '../support/lookout.ts';
import { spawnLookout } from '../support/process.ts';

async function echoes(url: string): Promise<void> {
  const client = await connectClient(url);
  const result = await client.callTool({ name: 'echo', arguments: { text: 'still serving' } });
  assert.deepEqual(result.content, [{ type: 'text', text: 'still serving' }]);
  await client.close();
}

describe('telemetry never stops the service', () => {
  it('broken telemetry config: logs an error and serves without telemetry', async () => {
    const lookout = await spawnLookout([], {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon',
    });
    await echoes(lookout.url);
    assert.match(lookout.stderr.join(''), /telemetry disabled: .*carrier-pigeon/);
    assert.equal((await fetch(new URL('/metrics', lookout.url))).status, 404);
    assert.equal(await lookout.stop(), 0);
  });

  it('OTEL_SDK_DISABLED=true: serves without telemetry, and says nothing about it', async () => {
    const lookout = await spawnLookout([], { OTEL_SDK_DISABLED: 'true' });
    await echoes(lookout.url);
    assert.equal(lookout.stderr.join(''), '');
    assert.equal((await fetch(new URL('/metrics', lookout.url))).status, 404);
    assert.equal(await lookout.stop(), 0);
  });

  it('serves /metrics on a port of its own when asked', async () => {
    const port = await freePort();
    const lookout = await spawnLookout(['--metrics-port', String(port)]);
    await echoes(lookout.url);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /mcp_server_operation_duration_count/);
    assert.equal((await fetch(new URL('/metrics', lookout.url))).status, 404);
    assert.equal(await lookout.stop(), 0);
  });

  it('health probes answer with per-check JSON', async () => {
    const lookout = await spawnLookout([], { OTEL_SDK_DISABLED: 'true' });
    for (const probe of ['live', 'ready', 'startup']) {
      const res = await fetch(new URL(`/health/${probe}`, lookout.url));
      assert.equal(res.status, 200, probe);
      const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
      assert.equal(body.status, 'ok');
      assert.ok(Object.keys(body.checks).length > 0);
    }
    assert.equal(await lookout.stop(), 0);
  });
});

/** A config file with the fixture upstream `fx` over stdio. */
function fixtureUpstreamConfig(): string {
  const fixture = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));
  const config = join(mkdtempSync(join(tmpdir(), 'lookout-metrics-')), 'lookout.json');
  writeFileSync(
    config,
    JSON.stringify({
      upstreams: [{ name: 'fx', transport: 'stdio', command: process.execPath, args: [fixture] }],
    }),
  );
  return config;
}

describe('operational metrics on /metrics', () => {
  it('names the HTTP route of its own paths, and of no other', async () => {
    const lookout = await spawnLookout([]);
    await echoes(lookout.url);
    assert.equal((await fetch(new URL('/wp-admin/x', lookout.url))).status, 404);
    const metrics = await (await fetch(new URL('/metrics', lookout.url))).text();
    const requests = metrics
      .split('\n')
      .filter((line) => line.startsWith('http_server_request_duration_count{'));
    assert.ok(
      requests.some(
        (line) => line.includes('http_request_method="POST"') && line.includes('http_route="/mcp"'),
      ),
    );
    const notFound = requests.find((line) => line.includes('http_response_status_code="404"'));
    assert.ok(notFound, 'the 404 is counted');
    assert.doesNotMatch(notFound, /http_route=/);
    assert.equal(await lookout.stop(), 0);
  });

  it('exports breaker state and queue depth per upstream, and the admission gauges', async () => {
    const lookout = await spawnLookout(['--config', fixtureUpstreamConfig()]);
    await echoes(lookout.url);
    const metrics = await (await fetch(new URL('/metrics', lookout.url))).text();
    assert.match(metrics, /^lookout_upstream_breaker_state\{[^}]*lookout_upstream="fx"[^}]*\} 0$/m);
    assert.match(metrics, /^lookout_upstream_queue_depth\{[^}]*lookout_upstream="fx"[^}]*\} 0$/m);
    assert.match(metrics, /^lookout_admission_active\{[^}]*\} \d+$/m);
    assert.match(metrics, /^lookout_admission_queued\{[^}]*\} 0$/m);
    assert.equal(await lookout.stop(), 0);
  });

  it('has every counter series at 0 before its first event, and the process CPU time and RSS', async () => {
    const lookout = await spawnLookout(['--config', fixtureUpstreamConfig()]);
    const metrics = await (await fetch(new URL('/metrics', lookout.url))).text();
    assert.match(metrics, /^lookout_upstream_restarts_total\{[^}]*lookout_upstream="fx"[^}]*\} 0$/m);
    for (const reason of admissionRejections) {
      assert.match(
        metrics,
        new RegExp(`^lookout_admission_rejections_total\\{[^}]*reason="${reason}"[^}]*\\} 0$`, 'm'),
      );
    }
    for (const signal of ['traces', 'metrics', 'logs']) {
      assert.match(
        metrics,
        new RegExp(`^lookout_telemetry_export_failures_total\\{[^}]*="${signal}"[^}]*\\} 0$`, 'm'),
      );
    }
    const cpu = /^process_cpu_time_total\{cpu_mode="user"[^}]*\} ([\d.e+-]+)$/m.exec(metrics);
    assert.ok(cpu && Number(cpu[1]) > 0, 'user CPU time is exported');
    const rss = /^process_memory_usage\{[^}]*\} (\d+)$/m.exec(metrics);
    assert.ok(rss && Number(rss[1]) > 10 * 1024 * 1024, 'RSS is exported in bytes');
    assert.equal(await lookout.stop(), 0);
  });
});
