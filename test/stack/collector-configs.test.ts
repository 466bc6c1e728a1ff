/**
 * The shipped collector and Jaeger configs, checked with the real binaries built by `npm run tools`:
 * `validate` for each (also those the Kubernetes manifests carry in ConfigMaps), and the gateway
 * variant run for real in front of two backend collectors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { toolPath } from '../../support/tools.ts';
import { connectClient } from '../support/lookout.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';
import { type Service, waitFor } from '../support/services.ts';
import {
  type CollectorPorts,
  collectorPorts,
  type Jaeger,
  repo,
  scrapeSum,
  startCollector,
  startJaeger,
} from '../support/stack.ts';

const run = promisify(execFile);

/** `config` relative to the repository, or absolute. */
async function validate(bin: string, config: string, env: Record<string, string> = {}) {
  return run(bin, ['validate', '--config', resolve(repo, config)], {
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}

interface CollectorConfig {
  service: { pipelines: Record<string, unknown> };
}

interface K8sResource {
  kind?: string;
  data?: Record<string, string>;
  spec?: { template?: { spec?: { containers?: { env?: { name: string; value: string }[] }[] } } };
}

/** The collector config a manifest of deploy/kubernetes carries in its one ConfigMap, and its pods' environment. */
function k8sCollector(manifest: string): { config: string; env: Record<string, string> } {
  const text = readFileSync(join(repo, 'deploy/kubernetes', manifest), 'utf8');
  const resources = parseAllDocuments(text).map((document) => document.toJS() as K8sResource);
  const configs = resources.flatMap((r) => (r.kind === 'ConfigMap' ? [r.data?.['config.yaml']] : []));
  assert.equal(configs.length, 1, `${manifest}: one collector ConfigMap`);
  const containers = resources.flatMap((r) => r.spec?.template?.spec?.containers ?? []);
  assert.equal(containers.length, 1, `${manifest}: one collector container`);
  const env = Object.fromEntries((containers[0]?.env ?? []).map(({ name, value }) => [name, value]));
  return { config: configs[0] ?? '', env };
}

describe('collector and Jaeger configs', () => {
  it('validate with the binaries they are run with', async () => {
    await validate(toolPath('otelcol-lookout'), 'otel-collector/config.yaml');
    await validate(toolPath('otelcol-lookout'), 'otel-collector/config.gateway.yaml', {
      COLLECTOR_BACKENDS: '[127.0.0.1:4317, 127.0.0.1:5317]',
    });
    await validate(toolPath('jaeger'), 'monitoring/jaeger/config.yaml');
  });

  it("validate as the Kubernetes manifests carry them, with their pods' environment", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lookout-k8s-collector-'));
    try {
      for (const manifest of ['collector-agent.yaml', 'collector-gateway.yaml']) {
        const path = join(dir, manifest);
        const { config, env } = k8sCollector(manifest);
        writeFileSync(path, config);
        await validate(toolPath('otelcol-lookout'), path, env);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in Kubernetes, the gateway tier has a pipeline for every signal the agents send it', () => {
    const pipelines = (manifest: string) =>
      Object.keys((parse(k8sCollector(manifest).config) as CollectorConfig).service.pipelines).map(
        (id) => id.split('/', 1)[0],
      );
    const gateway = new Set(pipelines('collector-gateway.yaml'));
    for (const signal of pipelines('collector-agent.yaml'))
      assert.ok(gateway.has(signal), `the gateway tier drops the agents' ${signal}`);
  });

  it('refuse a gateway without backends, saying so', async () => {
    await assert.rejects(
      validate(toolPath('otelcol-lookout'), 'otel-collector/config.gateway.yaml'),
      (error) => {
        assert.match(
          String((error as { stderr?: string }).stderr),
          /no endpoints specified for the static resolver/,
        );
        return true;
      },
    );
  });
});

describe('the gateway variant in front of two collectors', () => {
  const echoCalls = 60;
  const errorCalls = 20;
  const dir = mkdtempSync(join(tmpdir(), 'lookout-gateway-'));
  const services: Service[] = [];
  const backends: CollectorPorts[] = [];
  let jaeger: Jaeger;
  let lookout: LookoutProcess | undefined;

  before(async () => {
    jaeger = await startJaeger();
    services.push(jaeger.service);
    for (let i = 0; i < 2; i++) {
      const ports = await collectorPorts();
      backends.push(ports);
      // Only errors are kept, so a trace that arrives split across backends would lose the spans
      // without the error.
      services.push(
        await startCollector('config.yaml', ports, {
          JAEGER_OTLP_ENDPOINT: jaeger.otlpGrpc,
          TAIL_SAMPLING_DECISION_WAIT: '2s',
          TAIL_SAMPLING_PERCENTAGE: '0',
        }),
      );
    }
    const gateway = await collectorPorts();
    services.push(
      await startCollector('config.gateway.yaml', gateway, {
        COLLECTOR_BACKENDS: `[${backends.map((b) => `127.0.0.1:${b.grpc}`).join(', ')}]`,
      }),
    );
    const config = join(dir, 'lookout.json');
    writeFileSync(config, JSON.stringify({ telemetry: { sampling: { rules: [{ sample: 'always' }] } } }));
    lookout = await spawnLookout(
      ['--config', config],
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${gateway.http}`,
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
      { killAfterMs: 300_000 },
    );
    const client = await connectClient(lookout.url);
    for (let n = 0; n < echoCalls; n++) await client.callTool({ name: 'echo', arguments: { text: `${n}` } });
    for (let n = 0; n < errorCalls; n++) {
      await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }));
    }
    await client.close();
  });

  after(async () => {
    await lookout?.stop();
    for (const service of services.reverse()) await service.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('spreads traces over both backends and keeps each trace whole on one of them', async () => {
    for (const backend of backends) {
      const accepted = await waitFor('spans at every backend', async () => {
        const n = await scrapeSum(
          `http://127.0.0.1:${backend.telemetry}/metrics`,
          'otelcol_receiver_accepted_spans',
        );
        return n > 0 ? n : undefined;
      });
      assert.ok(accepted > 0);
    }
    const errorLines = (lookout?.lines ?? [])
      .filter((line) => line.includes('"message":"mcp request"') && line.includes('"target":"no_such_tool"'))
      .map((line) => JSON.parse(line) as { trace_id: string });
    assert.equal(errorLines.length, errorCalls);
    for (const { trace_id } of errorLines) {
      const spans = await waitFor(`error trace ${trace_id} in Jaeger`, () => jaeger.trace(trace_id));
      const names = spans.map((s) => s.operationName).sort();
      assert.deepEqual(names, ['POST /mcp', 'tools/call no_such_tool'], `trace ${trace_id} is whole`);
    }
  });

  it('still counts every span in span metrics, across the backends', async () => {
    const counted = await waitFor('echo spans counted by the backends', async () => {
      let sum = 0;
      for (const backend of backends) {
        sum += await scrapeSum(
          `http://127.0.0.1:${backend.exporter}/metrics`,
          'traces_span_metrics_calls_total',
          'span_name="tools/call echo"',
        );
      }
      return sum === echoCalls ? sum : undefined;
    });
    assert.equal(counted, echoCalls);
  });
});
