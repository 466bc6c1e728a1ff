/**
 * `npm run bench` for real, its side-by-side cut to a second per target: every server starts on its
 * pinned CPU, answers wrk with no errors, and the OTLP receiver gets from each what its row claims;
 * and the latency scenario for a few seconds: the open-model generator makes every scheduled call
 * and says whether it held the rate; and the paired comparisons for two short pairs. It measures nothing (a few seconds say little); it keeps the
 * harness and the baselines working between the full runs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Results, TargetVerdict } from '../../bench/report.ts';
import { toolPath } from '../../support/tools.ts';
import { repo } from '../support/stack.ts';

const run = promisify(execFile);

describe('npm run bench, cut to seconds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-bench-'));
  before(() => {
    toolPath('otelcol-lookout');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** `npm run bench -- --only <scenario> <flags>` with a short warm-up, and the JSON it wrote. */
  const bench = async (scenario: string, flags: string[]) => {
    const out = join(dir, `${scenario}.json`);
    const shortWarmUp = ['--warmup', '1', '--max-warmup', '2'];
    await run('npm', ['run', 'bench', '--', '--only', scenario, ...shortWarmUp, ...flags, '--out', out], {
      cwd: repo,
      timeout: 170_000,
      maxBuffer: 16 << 20,
    });
    return JSON.parse(readFileSync(out, 'utf8')) as { results: Results; targets: TargetVerdict[] };
  };

  it('runs every target without errors, and each exports what its row says', {
    timeout: 180_000,
  }, async () => {
    const { results } = await bench('echo', ['--seconds', '1', '--rounds', '1']);
    const rows = new Map((results.throughput ?? []).map((row) => [row.name, row]));
    assert.deepEqual(
      [...rows.keys()],
      [
        'express-echo',
        'express-echo-otel',
        'sdk-stateful',
        'sdk-stateless-otel',
        'sdk2-handler',
        'sdk2-handler-2025',
        'lookout-full',
        'lookout-full-2026',
        'lookout-default',
        'lookout-off',
        'lookout-collector-down',
      ],
    );
    for (const row of rows.values()) {
      assert.equal(row.errors, 0, row.name);
      assert.ok(row.rps > 0, row.name);
      assert.equal(row.warmUps.length, 1, `${row.name}: one warm-up per round`);
      assert.ok((row.warmUps[0]?.seconds ?? 0) >= 1, `${row.name}: warmed up`);
      assert.equal(row.rpsSpread, 0, `${row.name}: one round has no spread`);
    }
    // Besides the measured calls, a few protocol requests (initialize, the check call) reach each target.
    const about = (value: number | undefined, expected: number, name: string) =>
      assert.ok(value !== undefined && value >= expected && value < expected + 0.1, `${name}: ${value}`);
    for (const name of ['express-echo-otel', 'lookout-full', 'lookout-full-2026']) {
      about(rows.get(name)?.telemetry?.spansPerRequest, 2, `${name} spans per request`);
      about(rows.get(name)?.telemetry?.logRecordsPerRequest, 1, `${name} log records per request`);
    }
    const shipped = rows.get('lookout-default')?.telemetry;
    assert.ok(shipped && shipped.spansPerRequest < 0.5, 'as shipped, adaptive sampling keeps few traces');
    // Log records are exported like traces (telemetry.logs.export: sampled): one per sampled call, whose
    // two spans are exported; the echo calls neither fail nor run slow.
    assert.ok(
      Math.abs(shipped.logRecordsPerRequest - shipped.spansPerRequest / 2) < 0.05,
      `lookout-default: ${shipped.logRecordsPerRequest} log records and ${shipped.spansPerRequest} spans per request`,
    );
    assert.ok((rows.get('sdk-stateless-otel')?.telemetry?.spansPerRequest ?? 0) > 1);
    for (const name of ['express-echo', 'sdk-stateful', 'sdk2-handler', 'sdk2-handler-2025', 'lookout-off'])
      assert.equal(rows.get(name)?.telemetry, undefined, `${name} exports nothing`);
    assert.equal(rows.get('lookout-collector-down')?.telemetry?.spansPerRequest, 0);
  });

  it('runs the latency scenario at half the as-shipped maximum and says whether the generator held it', {
    timeout: 180_000,
  }, async () => {
    const { results, targets } = await bench('latency', ['--seconds', '1', '--latency-seconds', '3']);
    const latency = results.latency;
    assert.ok(latency);
    assert.equal(latency.target, 'lookout-default');
    assert.equal(latency.rate, Math.round(latency.maxRps / 2));
    for (const [name, m] of [
      ['floor', latency.floor],
      ['the SDK alone', latency.sdkAlone],
      ['as shipped', latency.load],
    ] as const) {
      assert.equal(m.scheduled, latency.rate * 3, `${name}: the schedule of the measured phase`);
      assert.equal(
        m.requests + (m.dropped ?? 0),
        m.scheduled,
        `${name}: every arrival made or counted dropped`,
      );
      assert.equal(m.errors, 0, name);
      assert.ok(Number.isFinite(m.latenessP99Ms) && Number.isFinite(m.generatorCpuShare), name);
      assert.ok(m.cpuUsPerRequest > 0, `${name}: server CPU counted over the measured phase`);
    }
    const verdict = targets.find((t) => t.target.startsWith('p99 at 50 % of max throughput, as shipped'));
    assert.ok(verdict);
    // On a busy machine the generator may fall behind: then the target must be invalid, never met or missed.
    if (latency.load.invalid || latency.floor.invalid) {
      assert.equal(verdict.met, undefined);
      assert.ok(verdict.invalid);
    } else {
      assert.equal(typeof verdict.met, 'boolean');
      assert.equal(verdict.invalid, undefined);
    }
  });

  it('runs the paired comparisons, the eras in one process and the rest on two, and judges the ratios by them', {
    timeout: 180_000,
  }, async () => {
    const { results, targets } = await bench('pairs', ['--pairs', '2', '--slice-seconds', '1']);
    assert.deepEqual(
      (results.paired ?? []).map((p) => `${p.name}/${p.base}`),
      [
        'lookout-full (2026-07-28)/lookout-full (2025-11-25)',
        'lookout-full/lookout-off',
        'lookout-default/lookout-off',
        'express-echo-otel/express-echo',
      ],
    );
    for (const p of results.paired ?? []) {
      assert.equal(p.errors, 0, p.name);
      assert.equal(p.pairs.length, 2, p.name);
      for (const { target, base, ratio } of p.pairs) {
        assert.ok(target.requests > 0 && base.requests > 0, p.name);
        assert.equal(ratio, target.rps / base.rps);
      }
    }
    const era = targets.find((t) => t.target.startsWith('MCP 2026-07-28 echo'));
    assert.match(era?.measured ?? '', /in 2 pairs of 1 s slices in one process serving both/);
    assert.deepEqual(
      (results.paired ?? []).map((p) => p.sameProcess),
      [true, false, false, false],
    );
    const cpu = targets.find((t) => t.target.startsWith("telemetry's CPU per call"));
    assert.match(cpu?.measured ?? '', /µs\/req .* in pairs of 1 s slices/);
  });
});
