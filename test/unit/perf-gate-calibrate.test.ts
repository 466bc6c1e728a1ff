/** `npm run perf:gate:calibrate` on made-up same-code rounds whose verdicts are known in advance. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RunStats } from '../../scripts/perf/k6.ts';

const script = fileURLToPath(new URL('../../scripts/perf-gate-calibrate.ts', import.meta.url));

function stats(scale: number): RunStats {
  return {
    kinds: {
      call_echo: { count: 4000, p95: 2 * scale, p99: 5 * scale },
      call_gateway: { count: 4000, p95: 3 * scale, p99: 8 * scale },
    },
    requests: 16000,
    failedRequests: 0,
    checksPassed: 16000,
    checksFailed: 0,
    droppedIterations: 0,
    thresholdsOk: true,
  };
}

it('replays the rule: same code never fails within ±2 %, every slowdown of 15 % and more is caught', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-calibrate-'));
  try {
    // Head moves by at most 2 % either way per round, around a pool-wide +30 % that centring removes.
    const jitter = [-0.02, 0.02, -0.01, 0.01, 0, 0];
    const path = join(dir, 'verdict.json');
    writeFileSync(
      path,
      JSON.stringify({
        rounds: { base: jitter.map(() => stats(1)), head: jitter.map((j) => stats(1.3 * (1 + j))) },
      }),
    );
    const { stdout } = await promisify(execFile)(process.execPath, [script, path, '--trials', '500']);
    assert.match(
      stdout,
      /^6 same-code rounds from 1 run\(s\); rule: median change > \+10 % with head slower/,
    );
    assert.match(
      stdout,
      /\nno change: fails 0\.0 %, 0\.0 % on a regression \(the rest on limits\); more rounds run in 0\.0 %\n/,
    );
    // Rounds from before the HTTP gateway kind: judged on the kinds they measured.
    assert.match(
      stdout,
      /\ncompared: call_echo, call_gateway \(the others were not measured in these rounds\)\n/,
    );
    for (const name of ['every p95 \\+15 %', 'every p99 \\+25 %', 'every p99 \\+50 %', 'everything \\+20 %'])
      assert.match(stdout, new RegExp(`\\n${name}: fails 100\\.0 %, 100\\.0 % on a regression`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
