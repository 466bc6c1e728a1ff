/**
 * `npm run bench` for real, its side-by-side cut to a second per target: every server starts on its
 * pinned CPU, answers wrk with no errors, and the OTLP receiver gets from each what its row claims.
 * It measures nothing (one second says little); it keeps the harness and the baselines working
 * between the full runs, which take 18 minutes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Results } from '../../bench/report.ts';
import { toolPath } from '../../support/tools.ts';
import { repo } from '../support/stack.ts';

const run = promisify(execFile);

describe('npm run bench (echo side by side, 1 s per target)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-bench-'));
  before(() => {
    toolPath('otelcol-lookout');
    toolPath('k6');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every target without errors, and each exports what its row says', {
    timeout: 180_000,
  }, async () => {
    const out = join(dir, 'bench.json');
    const args = ['run', 'bench', '--', '--only', 'echo', '--seconds', '1', '--warmup', '1', '--rounds', '1'];
    await run('npm', [...args, '--out', out], { cwd: repo, timeout: 170_000, maxBuffer: 16 << 20 });
    const { results } = JSON.parse(readFileSync(out, 'utf8')) as { results: Results };
    const rows = new Map((results.throughput ?? []).map((row) => [row.name, row]));
    assert.deepEqual(
      [...rows.keys()],
      [
        'express-echo',
        'express-echo-otel',
        'sdk-stateful',
        'sdk-stateless-otel',
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
    for (const name of ['express-echo', 'sdk-stateful', 'lookout-off'])
      assert.equal(rows.get(name)?.telemetry, undefined, `${name} exports nothing`);
    assert.equal(rows.get('lookout-collector-down')?.telemetry?.spansPerRequest, 0);
  });
});
