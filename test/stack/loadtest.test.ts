/**
 * `npm run loadtest` for real: the runner starts the built Lookout with the fixture upstream, drives the
 * MCP flow with k6 (built by `npm run tools`), writes the JSON and Markdown summaries, and exits non-zero
 * when a threshold is crossed — here because the gateway tool answers with tool errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { toolPath } from '../../support/tools.ts';
import { repo } from '../support/stack.ts';

const run = promisify(execFile);

interface Summary {
  metrics: Record<string, { values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
}

async function loadtest(outDir: string, ...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [
        join(repo, 'scripts/loadtest.ts'),
        '--scenario',
        'smoke',
        '--duration',
        '5s',
        '--no-pin',
        '--out-dir',
        outDir,
        ...args,
      ],
      { cwd: repo, timeout: 120_000, maxBuffer: 16 << 20 },
    );
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: code ?? -1, output: `${stdout}${stderr}` };
  }
}

describe('npm run loadtest (smoke)', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'lookout-loadtest-'));
  before(() => toolPath('k6'));
  after(() => rmSync(outDir, { recursive: true, force: true }));

  it('runs the MCP flow on echo and the gateway tools (stdio and HTTP) within the thresholds', async () => {
    const { code, output } = await loadtest(join(outDir, 'pass'));
    assert.equal(code, 0, output);
    const summary = JSON.parse(readFileSync(join(outDir, 'pass/smoke.json'), 'utf8')) as Summary;
    const kinds = [
      'initialize',
      'initialized',
      'tools_list',
      'call_echo',
      'call_echo_modern',
      'call_gateway',
      'call_gateway_http',
    ];
    for (const kind of kinds) {
      const metric = summary.metrics[`http_req_duration{scenario:smoke,kind:${kind}}`];
      assert.ok((metric?.values.count ?? 0) > 0, `${kind} was measured`);
    }
    // 20 iterations/s for 5 s, each an echo call (2025-11-25 and 2026-07-28 in turn, by pairs of
    // iterations) and a call on one gateway tool, the two in turn.
    const count = (kind: string) =>
      summary.metrics[`http_req_duration{scenario:smoke,kind:${kind}}`]?.values.count ?? 0;
    const echoes = count('call_echo') + count('call_echo_modern');
    assert.ok(echoes >= 90, `${echoes} echo calls`);
    assert.ok(Math.abs(count('call_echo') - count('call_echo_modern')) <= 4);
    assert.ok(Math.abs(count('call_gateway') - count('call_gateway_http')) <= 1);
    assert.equal(count('call_gateway') + count('call_gateway_http'), echoes);
    assert.equal(summary.metrics.checks?.values.fails, 0);
    assert.equal(summary.metrics.http_req_failed?.values.passes, 0);
    const markdown = readFileSync(join(outDir, 'pass/smoke.md'), 'utf8');
    assert.match(markdown, /\| call_echo_modern \| \d+ \|/);
    assert.match(markdown, /\| call_gateway \| \d+ \|/);
    assert.match(markdown, /\| call_gateway_http \| \d+ \|/);
    assert.doesNotMatch(markdown, /\*\*FAIL\*\*/);
  });

  it('exits non-zero when a threshold is crossed', async () => {
    const { code, output } = await loadtest(join(outDir, 'fail'), '--gateway-tool', 'fx__fail');
    assert.equal(code, 99, output);
    assert.match(output, /thresholds of scenario smoke crossed/);
    const summary = JSON.parse(readFileSync(join(outDir, 'fail/smoke.json'), 'utf8')) as Summary;
    assert.equal(summary.metrics.checks?.thresholds?.['rate>=0.999']?.ok, false);
  });

  it('exits non-zero when the HTTP gateway tool fails', async () => {
    const { code, output } = await loadtest(join(outDir, 'fail-http'), '--gateway-http-tool', 'fxh__fail');
    assert.equal(code, 99, output);
    const { root_group: group } = JSON.parse(readFileSync(join(outDir, 'fail-http/smoke.json'), 'utf8')) as {
      root_group: { checks: { name: string; passes: number; fails: number }[] };
    };
    const byName = new Map(group.checks.map((check) => [check.name, check]));
    assert.equal(byName.get('tools/call gateway_http: a text result')?.passes, 0);
    assert.ok((byName.get('tools/call gateway_http: a text result')?.fails ?? 0) > 0);
    assert.equal(byName.get('tools/call gateway: a text result')?.fails, 0);
  });
});
