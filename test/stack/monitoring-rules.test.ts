/**
 * The shipped Prometheus and Alertmanager configs, checked with the real promtool and amtool, and the
 * Prometheus directory run for real from a copy, scraping a real Lookout.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { freePort } from '../../support/ports.ts';
import { toolPath } from '../../support/tools.ts';
import { connectClient } from '../support/lookout.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';
import { type Service, startService, waitFor } from '../support/services.ts';
import { repo } from '../support/stack.ts';

const run = promisify(execFile);
const prometheusDir = join(repo, 'monitoring/prometheus');
const alertmanagerConfig = join(repo, 'monitoring/alertmanager/alertmanager.yml');
const ruleTests = readdirSync(join(prometheusDir, 'tests')).filter((f) => f.endsWith('.yml'));

describe('Prometheus and Alertmanager configs', () => {
  it('promtool check config accepts prometheus.yml and the rule files it loads', async () => {
    const { stdout } = await run(toolPath('promtool'), [
      'check',
      'config',
      join(prometheusDir, 'prometheus.yml'),
    ]);
    assert.match(stdout, /SUCCESS: 1 rule files found/);
    assert.match(stdout, /SUCCESS: 29 rules found/);
  });

  it('promtool check rules accepts every rules file', async () => {
    const rules = readdirSync(join(prometheusDir, 'rules')).map((f) => join(prometheusDir, 'rules', f));
    assert.ok(rules.length > 0);
    const { stdout } = await run(toolPath('promtool'), ['check', 'rules', ...rules]);
    assert.doesNotMatch(stdout, /FAILED/);
  });

  it('has promtool tests for both SLOs', () => {
    assert.deepEqual(ruleTests.sort(), ['availability.test.yml', 'latency.test.yml']);
  });

  for (const file of ruleTests) {
    it(`promtool test rules passes ${file}`, { timeout: 300_000 }, async () => {
      // promtool exits non-zero on a failed test, which rejects with its output.
      const { stdout } = await run(toolPath('promtool'), [
        'test',
        'rules',
        join(prometheusDir, 'tests', file),
      ]);
      assert.match(stdout, /SUCCESS/);
    });
  }

  it('amtool check-config accepts alertmanager.yml', async () => {
    const { stdout } = await run(toolPath('amtool'), ['check-config', alertmanagerConfig]);
    assert.match(stdout, /SUCCESS/);
    assert.match(stdout, /1 inhibit rules/);
    assert.match(stdout, /2 receivers/);
  });

  it('routes pages to the pager and tickets to the ticket queue', async () => {
    const route = async (...labels: string[]) => {
      const { stdout } = await run(toolPath('amtool'), [
        'config',
        'routes',
        'test',
        `--config.file=${alertmanagerConfig}`,
        ...labels,
      ]);
      return stdout.trim();
    };
    assert.equal(
      await route('alertname=LookoutAvailabilityBurnRatePage', 'severity=page', 'slo=availability'),
      'pager',
    );
    assert.equal(
      await route('alertname=LookoutLatencyBurnRatePage', 'severity=page', 'slo=latency'),
      'pager',
    );
    assert.equal(
      await route('alertname=LookoutLatencyBurnRateTicket', 'severity=ticket', 'slo=latency'),
      'ticket',
    );
    assert.equal(
      await route('alertname=Unclassified'),
      'ticket',
      'an alert without severity still reaches someone',
    );
  });
});

describe('the Prometheus directory copied elsewhere, scraping a real Lookout', () => {
  let dir = '';
  const services: Service[] = [];
  let lookout: LookoutProcess | undefined;
  let client: Client | undefined;
  let prometheusUrl = '';
  let alertmanagerPort = 0;

  async function query(promql: string): Promise<number | undefined> {
    const url = new URL('/api/v1/query', prometheusUrl);
    url.searchParams.set('query', promql);
    const body = (await (await fetch(url)).json()) as { data: { result: { value: [number, string] }[] } };
    const sample = body.data.result[0];
    return sample === undefined ? undefined : Number(sample.value[1]);
  }

  /** Calls a tool, returning "ok" or the JSON-RPC error code it failed with. */
  async function call(name: string, args: Record<string, unknown>): Promise<string> {
    assert.ok(client);
    try {
      await client.callTool({ name, arguments: args });
      return 'ok';
    } catch (error) {
      return String((error as { code?: number }).code);
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lookout-monitoring-'));
    const lookoutConfig = join(dir, 'lookout.yaml');
    // A call to `wait` fails as a tool timeout (-32012, Lookout's fault) after 0.3 s (slow).
    writeFileSync(lookoutConfig, 'admission:\n  toolTimeouts:\n    wait: 0.3\n');
    lookout = await spawnLookout([
      '--config',
      lookoutConfig,
      '--tools',
      fileURLToPath(new URL('../fixtures/slow-tools.ts', import.meta.url)),
    ]);
    client = await connectClient(lookout.url, 'monitoring-rules');
    // Before the first scrape, so every series of the first phase is already there when it counts.
    assert.equal(await call('echo', { text: 'warm-up' }), 'ok');
    assert.equal(await call('no_such_tool', {}), '-32602');

    alertmanagerPort = await freePort();
    services.push(
      await startService(
        'alertmanager',
        toolPath('alertmanager'),
        [
          `--config.file=${alertmanagerConfig}`,
          `--storage.path=${join(dir, 'alertmanager')}`,
          `--web.listen-address=127.0.0.1:${alertmanagerPort}`,
          '--cluster.listen-address=',
        ],
        { readyUrl: `http://127.0.0.1:${alertmanagerPort}/-/ready` },
      ),
    );

    const promDir = join(dir, 'prometheus');
    cpSync(prometheusDir, promDir, { recursive: true });
    const targets = (address: string) => `- targets: ['${address}']\n`;
    writeFileSync(join(promDir, 'targets/lookout.yml'), targets(new URL(lookout.url).host));
    writeFileSync(join(promDir, 'targets/otelcol.yml'), '[]\n');
    writeFileSync(join(promDir, 'targets/otelcol-spanmetrics.yml'), '[]\n');
    writeFileSync(join(promDir, 'targets/alertmanager.yml'), targets(`127.0.0.1:${alertmanagerPort}`));
    const prometheusPort = await freePort();
    prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
    services.push(
      await startService(
        'prometheus',
        toolPath('prometheus'),
        [
          `--config.file=${join(promDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${prometheusPort}`,
        ],
        { readyUrl: `${prometheusUrl}/-/ready` },
      ),
    );
    await waitFor('the first scrape of Lookout', async () =>
      (await query('up{job="lookout"}')) === 1 ? true : undefined,
    );
  });

  after(async () => {
    await client?.close();
    await lookout?.stop();
    for (const service of services.reverse()) await service.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('records no failure for what callers got wrong, and a ratio once Lookout fails', {
    timeout: 120_000,
  }, async () => {
    for (let i = 0; i < 20; i++) assert.equal(await call('echo', { text: `call ${i}` }), 'ok');
    for (let i = 0; i < 5; i++) assert.equal(await call('no_such_tool', {}), '-32602');
    const clean = await waitFor(
      'the 5m availability ratio over the calls so far',
      () => query('lookout_slo:availability_error_ratio:rate5m'),
      { timeoutMs: 60_000 },
    );
    assert.equal(clean, 0, 'unknown tools (-32602) are the caller’s fault');
    const latency = await waitFor(
      'the 5m latency ratio',
      () => query('lookout_slo:latency_slow_ratio:rate5m'),
      {
        timeoutMs: 60_000,
      },
    );
    assert.ok(latency >= 0 && latency <= 1, `latency ratio ${latency}: the le="0.1" bucket matched`);

    // A series is born with its first count, which rate() cannot see: the later timeouts are what count.
    assert.equal(await call('wait', { ms: 2000 }), '-32012');
    await waitFor('the tool-timeout series scraped', () =>
      query('mcp_server_operation_duration_count{job="lookout", error_type="-32012"}'),
    );
    for (let i = 0; i < 3; i++) assert.equal(await call('wait', { ms: 2000 }), '-32012');
    const failing = await waitFor(
      'tool timeouts in the 5m availability ratio',
      async () => {
        const ratio = await query('lookout_slo:availability_error_ratio:rate5m');
        return ratio !== undefined && ratio > 0 ? ratio : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.ok(failing < 1, `availability error ratio ${failing}`);
    const slow = await waitFor(
      'the timed-out calls in the 5m latency ratio',
      async () => {
        const ratio = await query('lookout_slo:latency_slow_ratio:rate5m');
        return ratio !== undefined && ratio > 0 ? ratio : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.ok(slow < 1, `latency slow ratio ${slow}`);
    assert.equal(await query('lookout_slo:availability_objective'), 0.999);
  });

  it('evaluates every rule without error and finds Alertmanager through targets/alertmanager.yml', async () => {
    const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; interval: number; rules: { name: string; health: string }[] }[] };
    };
    const groups = rules.data.groups;
    assert.equal(groups.flatMap((g) => g.rules).length, 29);
    for (const group of groups) {
      // The 1m group may not have run yet; every other one has, many times over.
      const expected = group.interval === 60 ? ['ok', 'unknown'] : ['ok'];
      for (const rule of group.rules)
        assert.ok(expected.includes(rule.health), `${rule.name}: ${rule.health}`);
    }
    const managers = await waitFor('Alertmanager discovered', async () => {
      const body = (await (await fetch(`${prometheusUrl}/api/v1/alertmanagers`)).json()) as {
        data: { activeAlertmanagers: { url: string }[] };
      };
      return body.data.activeAlertmanagers.length > 0 ? body.data.activeAlertmanagers : undefined;
    });
    assert.deepEqual(
      managers.map((m) => m.url),
      [`http://127.0.0.1:${alertmanagerPort}/api/v2/alerts`],
    );
  });
});
