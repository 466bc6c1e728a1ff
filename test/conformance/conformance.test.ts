import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Lookout } from '../../src/main.ts';
import { startTestLookout } from '../support/lookout.ts';
import { fixtureModule, listChangers, runConformance, runRequirements, warmUp } from './harness.ts';

let lookout: Lookout;

before(async () => {
  lookout = await startTestLookout(
    { tools: [fixtureModule] },
    { definitions: listChangers((definition) => lookout.register(definition)) },
  );
  await warmUp(lookout.url);
});
after(() => lookout.close());

for (const revision of ['2026-07-28', '2025-11-25']) {
  it(`passes every server scenario conformance requires for ${revision}, with an empty baseline`, {
    timeout: 300_000,
  }, async () => {
    const { code, output } = await runRequirements(lookout.url, revision, `baseline-${revision}.yml`);
    const summary = output.match(/Total: (\d+) passed, (\d+) failed/);
    process.stdout.write(`conformance ${revision}: ${summary?.[0] ?? 'no summary'}\n`);
    assert.ok(summary, output);
    assert.ok(Number(summary[1]) >= 70, `at least one check per required scenario:\n${output}`);
    // Exit 0: every required scenario passed, with nothing listed as expected to fail.
    assert.equal(code, 0, output);
    if (revision === '2026-07-28') {
      // The suite does not score the tasks extension: each `tasks-*` scenario's line is checked here.
      const tasks = [...output.matchAll(/^([✓✗]) (tasks-[\w-]+): (\d+) passed, (\d+) failed/gm)];
      assert.ok(tasks.length >= 10, `the tasks extension scenarios ran:\n${output}`);
      for (const [line, mark] of tasks) assert.equal(mark, '✓', `${line}\n${output}`);
    }
  });
}

// Pending in this suite release (so not among the required scenarios), run by name.
it('passes the pending http-custom-header-server-validation scenario (Mcp-Param-* headers)', {
  timeout: 120_000,
}, async () => {
  const { code, output } = await runConformance([
    '--url',
    lookout.url,
    '--scenario',
    'http-custom-header-server-validation',
  ]);
  const summary = output.match(/Passed: (\d+)\/(\d+), (\d+) failed/);
  process.stdout.write(`conformance http-custom-header-server-validation: ${summary?.[0] ?? 'no summary'}\n`);
  assert.ok(summary, output);
  assert.ok(Number(summary[2]) >= 10, `every case ran:\n${output}`);
  assert.equal(summary[3], '0', output);
  assert.equal(code, 0, output);
});
