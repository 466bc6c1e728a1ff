/**
 * The whole observability stack, for real: Jaeger v2, the Lookout collector (otel-collector/config.yaml),
 * Prometheus (monitoring/prometheus) and a Lookout with an upstream, driven by a bounded workload.
 * Needs `npm run tools`.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../../support/ports.ts';
import { toolPath } from '../../support/tools.ts';
import { expandForInstantQuery, panelQueries } from '../support/dashboards.ts';
import { connectClient, ready } from '../support/lookout.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';
import { type Service, startService, waitFor } from '../support/services.ts';
import {
  type CollectorPorts,
  collectorPorts,
  type Jaeger,
  parentOf,
  repo,
  scrapeSum,
  startCollector,
  startJaeger,
  tag,
} from '../support/stack.ts';

const fixture = join(repo, 'test/fixtures/upstream-server.ts');

/** How many calls of each kind every client makes in the main workload. */
const workload = { echo: 40, reportMeta: 10, unknownTool: 3, toolError: 2, slow: 1, hang: 1 };
const clients = 3;
/** Tail sampling's share of the traces that are neither errors nor slow (TAIL_SAMPLING_PERCENTAGE). */
const tailSharePercent = 10;

interface AccessLine {
  message: string;
  method: string;
  target?: string;
  outcome: string;
  trace_id?: string;
}

type PromSample = { metric: Record<string, string>; value: [number, string] };

class Stack {
  readonly dir = mkdtempSync(join(tmpdir(), 'lookout-stack-'));
  readonly services: Service[] = [];
  jaeger!: Jaeger;
  collector: Service | undefined;
  collectorPorts!: CollectorPorts;
  lookout: LookoutProcess | undefined;
  prometheusPort = 0;
  trickle: { stop(): Promise<void> } | undefined;

  async startCollector(): Promise<void> {
    this.collector = await startCollector('config.yaml', this.collectorPorts, {
      JAEGER_OTLP_ENDPOINT: this.jaeger.otlpGrpc,
      TAIL_SAMPLING_DECISION_WAIT: '2s',
      TAIL_SAMPLING_SLOW_MS: '500',
      TAIL_SAMPLING_PERCENTAGE: String(tailSharePercent),
    });
  }

  trace(traceId: string) {
    return this.jaeger.trace(traceId);
  }

  async query(expr: string): Promise<PromSample[]> {
    const url = new URL(`http://127.0.0.1:${this.prometheusPort}/api/v1/query`);
    url.searchParams.set('query', expr);
    const res = await fetch(url);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: PromSample[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data?.result ?? [];
  }

  /** Each scrape target's job, health and last error, for failure messages. */
  async targets(): Promise<{ job: string; health: string; lastError: string }[]> {
    const res = await fetch(`http://127.0.0.1:${this.prometheusPort}/api/v1/targets`);
    const body = (await res.json()) as {
      data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] };
    };
    return body.data.activeTargets.map((t) => ({
      job: t.labels.job,
      health: t.health,
      lastError: t.lastError,
    }));
  }

  async scalar(expr: string): Promise<number | undefined> {
    const [sample] = await this.query(expr);
    return sample ? Number(sample.value[1]) : undefined;
  }

  accessLines(): AccessLine[] {
    return (this.lookout?.lines ?? [])
      .filter((line) => line.includes('"message":"mcp request"'))
      .map((line) => JSON.parse(line) as AccessLine);
  }

  async stop(): Promise<void> {
    await this.trickle?.stop();
    await this.lookout?.stop();
    for (const service of [this.collector, ...this.services].reverse()) await service?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Calls a tool and reports how it ended, whatever it was: ok, tool_error or a JSON-RPC error code. */
async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  try {
    const result = await client.callTool({ name, arguments: args });
    return result.isError ? 'tool_error' : 'ok';
  } catch (error) {
    return String((error as { code?: number }).code ?? 'failed');
  }
}

/** A ping every 200 ms from one session, until stopped. */
async function steadyPings(url: string): Promise<{ stop(): Promise<void> }> {
  const client = await connectClient(url, 'steady-pings');
  let running = true;
  const loop = (async () => {
    while (running) {
      await client.ping();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.close();
    },
  };
}

async function runWorkload(url: string): Promise<Map<string, string[]>> {
  const outcomes = new Map<string, string[]>();
  const record = (kind: string, outcome: string) =>
    outcomes.set(kind, [...(outcomes.get(kind) ?? []), outcome]);
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const client = await connectClient(url, `stack-client-${i}`);
      try {
        await client.listTools();
        const slowAndHang = Promise.all([
          ...Array.from({ length: workload.slow }, () => call(client, 'fx__slow', { ms: 700 })),
          ...Array.from({ length: workload.hang }, () => call(client, 'fx__hang')),
        ]).then(([slow, hang]) => {
          record('slow', slow ?? 'missing');
          record('hang', hang ?? 'missing');
        });
        for (let n = 0; n < workload.echo; n++)
          record('echo', await call(client, 'echo', { text: `hi ${n}` }));
        for (let n = 0; n < workload.reportMeta; n++)
          record('reportMeta', await call(client, 'fx__report_meta'));
        for (let n = 0; n < workload.unknownTool; n++)
          record('unknownTool', await call(client, 'no_such_tool'));
        for (let n = 0; n < workload.toolError; n++) record('toolError', await call(client, 'fx__fail'));
        await slowAndHang;
      } finally {
        // A DELETE ends the session, so its duration is recorded; close() alone sends none.
        await (client.transport as StreamableHTTPClientTransport).terminateSession();
        await client.close();
      }
    }),
  );
  return outcomes;
}

/** Lookout's own counter for traces, from its /metrics. */
function tracesCounter(lookout: LookoutProcess, name: string): Promise<number> {
  return scrapeSum(new URL('/metrics', lookout.url).href, name, 'lookout_telemetry_signal="traces"');
}

/** Every recording rule shipped in monitoring/prometheus/rules. */
function recordingRules(): { record: string; expr: string }[] {
  const dir = join(repo, 'monitoring/prometheus/rules');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yml'))
    .flatMap((file) => {
      const { groups } = parseYaml(readFileSync(join(dir, file), 'utf8')) as {
        groups: { rules: { record?: string; expr: string }[] }[];
      };
      return groups.flatMap((group) => group.rules);
    })
    .filter((rule): rule is { record: string; expr: string } => rule.record !== undefined);
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return Number(kb) / 1024;
}

describe('the observability stack, end to end', () => {
  const stack = new Stack();
  let outcomes: Map<string, string[]>;

  before(async () => {
    stack.jaeger = await startJaeger();
    stack.services.push(stack.jaeger.service);
    stack.collectorPorts = await collectorPorts();
    stack.prometheusPort = await freePort();
    await stack.startCollector();

    const config = join(stack.dir, 'lookout.json');
    writeFileSync(
      config,
      JSON.stringify({
        upstreams: [
          {
            name: 'fx',
            transport: 'stdio',
            command: process.execPath,
            args: [fixture],
            timeouts: { requestSeconds: 1 },
            required: true,
          },
        ],
        // Every trace leaves Lookout, so what Jaeger holds is the collector's tail-sampling decision.
        telemetry: { sampling: { rules: [{ sample: 'always' }] } },
      }),
    );
    stack.lookout = await spawnLookout(
      ['--config', config],
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${stack.collectorPorts.http}`,
        OTEL_METRIC_EXPORT_INTERVAL: '2000',
        OTEL_BSP_SCHEDULE_DELAY: '500',
        OTEL_BLRP_SCHEDULE_DELAY: '500',
        // A bounded heap: a backlog that grew without bound while the collector is down would end the process.
        NODE_OPTIONS: '--max-old-space-size=256',
      },
      { killAfterMs: 600_000 },
    );
    await ready(stack.lookout.url);

    const promDir = join(stack.dir, 'prometheus');
    cpSync(join(repo, 'monitoring/prometheus'), promDir, { recursive: true });
    const lookoutAddress = new URL(stack.lookout.url).host;
    const targets = (address: string) => `- targets: ['${address}']\n`;
    writeFileSync(join(promDir, 'targets/lookout.yml'), targets(lookoutAddress));
    writeFileSync(
      join(promDir, 'targets/otelcol.yml'),
      targets(`127.0.0.1:${stack.collectorPorts.telemetry}`),
    );
    writeFileSync(
      join(promDir, 'targets/otelcol-spanmetrics.yml'),
      targets(`127.0.0.1:${stack.collectorPorts.exporter}`),
    );
    writeFileSync(join(promDir, 'targets/alertmanager.yml'), '[]\n');
    stack.services.push(
      await startService(
        'prometheus',
        toolPath('prometheus'),
        [
          `--config.file=${join(promDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(stack.dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${stack.prometheusPort}`,
        ],
        { readyUrl: `http://127.0.0.1:${stack.prometheusPort}/-/ready` },
      ),
    );

    // Steady traffic across many scrapes, as in production: a series whose whole life fits between
    // two scrapes shows Prometheus no increase, and the SLO rates would stay 0.
    stack.trickle = await steadyPings(stack.lookout.url);
    // The workload starts once every target has been scraped, so Prometheus sees its counters increase.
    await waitFor('a first scrape of every target', async () => {
      const up = await stack.query('up');
      return up.length === 3 && up.every((s) => s.value[1] === '1') ? true : undefined;
    });
    outcomes = await runWorkload(stack.lookout.url);
  });

  after(async () => {
    await stack.stop();
  });

  it('ran the workload with the outcomes it was built to have', () => {
    const expect = (kind: string, outcome: string, count: number) =>
      assert.deepEqual(outcomes.get(kind), Array(count).fill(outcome), kind);
    expect('echo', 'ok', clients * workload.echo);
    expect('reportMeta', 'ok', clients * workload.reportMeta);
    expect('unknownTool', '-32602', clients * workload.unknownTool);
    expect('toolError', 'tool_error', clients * workload.toolError);
    expect('slow', 'ok', clients * workload.slow);
    expect('hang', '-32011', clients * workload.hang);
  });

  it('finds a trace id from a Lookout log line in Jaeger, with the upstream hop', async () => {
    const line = stack.accessLines().find((l) => l.target === 'fx__slow');
    assert.ok(line?.trace_id, 'an access line for the slow gateway call carries a trace id');
    const spans = await waitFor(`trace ${line.trace_id} in Jaeger`, () => stack.trace(line.trace_id ?? ''));
    const byName = (name: string) => spans.find((s) => s.operationName === name);
    const http = byName('POST /mcp');
    const server = byName('tools/call fx__slow');
    const client = spans.find((s) => tag(s, 'span.kind') === 'client' && tag(s, 'lookout.upstream') === 'fx');
    assert.ok(http && server && client, `span tree: ${spans.map((s) => s.operationName).join(', ')}`);
    assert.equal(tag(http, 'span.kind'), 'server');
    assert.equal(tag(server, 'span.kind'), 'server');
    assert.equal(parentOf(server), http.spanID, 'the MCP span is a child of the HTTP span');
    assert.equal(parentOf(client), server.spanID, 'the upstream call is a child of the MCP span');
    assert.equal(tag(client, 'mcp.method.name'), 'tools/call');
    assert.equal(tag(client, 'gen_ai.tool.name'), 'slow');
    assert.equal(tag(server, 'gen_ai.tool.name'), 'fx__slow');
  });

  it('kept every error trace through tail sampling, and only a share of the rest', async () => {
    const lines = stack.accessLines();
    const errors = lines.filter((l) => l.outcome === 'error' || l.outcome === 'tool_error');
    assert.equal(errors.length, clients * (workload.unknownTool + workload.toolError + workload.hang));
    for (const line of errors) {
      await waitFor(`error trace ${line.trace_id} (${line.target}, ${line.outcome}) in Jaeger`, () =>
        stack.trace(line.trace_id ?? ''),
      );
    }
    const echoes = lines.filter((l) => l.target === 'echo');
    let kept = 0;
    for (const line of echoes) if (await stack.trace(line.trace_id ?? '')) kept++;
    // 10 % of 120: the chance of none kept is 3e-6, of more than 40 % far less.
    assert.ok(kept >= 1 && kept <= echoes.length * 0.4, `kept ${kept} of ${echoes.length} plain traces`);
  });

  it('has the MCP metrics in Prometheus from the direct scrape and from spanmetrics', async () => {
    const echoCalls = clients * workload.echo;
    const direct = await waitFor('echo calls scraped from Lookout', async () => {
      const n = await stack.scalar(
        'sum(mcp_server_operation_duration_count{job="lookout", mcp_method_name="tools/call", gen_ai_tool_name="echo"})',
      );
      return n === echoCalls ? n : undefined;
    });
    assert.equal(direct, echoCalls);
    const fromSpans = await waitFor('echo calls counted by spanmetrics', async () => {
      const n = await stack.scalar(
        'sum(traces_span_metrics_calls_total{job="otelcol-spanmetrics", span_name="tools/call echo"})',
      );
      return n === echoCalls ? n : undefined;
    });
    assert.equal(fromSpans, echoCalls, 'spanmetrics saw every span, before tail sampling');
  });

  it('has data for every dashboard panel query and every recording rule', async () => {
    const queries = [
      ...panelQueries().map((q) => ({
        what: `${q.dashboard} / ${q.panelTitle} (${q.refId})`,
        expr: expandForInstantQuery(q),
      })),
      ...recordingRules().flatMap((rule) => [
        { what: `rule ${rule.record}`, expr: rule.expr },
        { what: `series ${rule.record}`, expr: rule.record },
      ]),
    ];
    assert.ok(queries.length > 40, `${queries.length} queries`);
    let empty: string[] = [];
    await waitFor(
      'data for every query',
      async () => {
        empty = [];
        for (const { what, expr } of queries)
          if ((await stack.query(expr)).length === 0) empty.push(`${what}: ${expr}`);
        return empty.length === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 5000 },
    ).catch(() => {});
    const targets = await stack.targets();
    assert.deepEqual(
      empty,
      [],
      `queries without data; scrape targets: ${JSON.stringify(targets)}; Lookout at ${stack.lookout?.url}, exit code ${stack.lookout?.child.exitCode}, stderr: ${stack.lookout?.stderr.join('').slice(-1500)}; last log lines: ${stack.lookout?.lines.slice(-5).join('\n')}`,
    );
  });

  it('keeps serving with bounded memory while the collector is down, and exports again when it is back', async () => {
    const lookout = stack.lookout;
    const collector = stack.collector;
    assert.ok(lookout?.child.pid && collector);
    collector.child.kill('SIGKILL');
    await collector.stop();
    const failuresBefore = await tracesCounter(lookout, 'lookout_telemetry_export_failures_total');
    const rssBefore = rssMiB(lookout.child.pid);

    const client = await connectClient(lookout.url, 'collector-down');
    const results: string[] = [];
    const deadline = Date.now() + 15_000;
    for (let n = 0; n < 3000 && Date.now() < deadline; n++)
      results.push(await call(client, 'echo', { text: 'x' }));
    assert.ok(results.length >= 500, `only ${results.length} calls in 15 s`);
    assert.deepEqual(new Set(results), new Set(['ok']), 'every call succeeds with the collector down');
    await waitFor('export failures counted', async () => {
      const failures = await tracesCounter(lookout, 'lookout_telemetry_export_failures_total');
      return failures > failuresBefore ? failures : undefined;
    });
    const rssAfter = rssMiB(lookout.child.pid);
    assert.ok(lookout.child.exitCode === null, 'Lookout is still running');
    assert.ok(rssAfter < 400, `RSS ${rssAfter.toFixed(0)} MiB (was ${rssBefore.toFixed(0)} MiB)`);

    await stack.startCollector();
    const exportedBefore = await tracesCounter(lookout, 'lookout_telemetry_exported_total');
    // Spans made while the batch queue is still full of the outage's backlog are dropped (that is the
    // bound), so probe with a failing call every few seconds until one of them reaches Jaeger.
    const probe = await waitFor(
      'an error trace made after the collector came back, in Jaeger',
      async () => {
        const probesBefore = stack.accessLines().filter((l) => l.target === 'no_such_tool').length;
        assert.equal(await call(client, 'no_such_tool'), '-32602');
        // This call's own access line: log lines reach stdout at the end of the event-loop turn, so it
        // can come a moment after the answer, and the one before it names an older trace.
        const traceId = await waitFor(
          "the probe call's access line",
          async () => stack.accessLines().filter((l) => l.target === 'no_such_tool')[probesBefore]?.trace_id,
          { timeoutMs: 5000, intervalMs: 20 },
        );
        const seen = await waitFor(`trace ${traceId}`, () => stack.trace(traceId), { timeoutMs: 5000 }).catch(
          () => undefined,
        );
        return seen ? traceId : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 0 },
    );
    await client.close();
    assert.match(probe, /^[0-9a-f]{32}$/);
    const exportedAfter = await tracesCounter(lookout, 'lookout_telemetry_exported_total');
    assert.ok(exportedAfter > exportedBefore, 'span exports succeed again');
  });
});
