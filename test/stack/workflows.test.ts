/**
 * The GitHub Actions workflows, checked with actionlint (built by `npm run tools`): any finding fails.
 * A workflow with known mistakes is checked too, so this test is known to be able to fail.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { toolPath } from '../../support/tools.ts';
import { repo } from '../support/stack.ts';

const run = promisify(execFile);
const workflowsDir = join(repo, '.github/workflows');

/** actionlint's findings, one per line; empty when it has none. */
async function actionlint(files: string[]): Promise<string> {
  try {
    await run(toolPath('actionlint'), ['-no-color', '-oneline', ...files], { cwd: repo });
    return '';
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    // Exit code 1 means findings; anything else is actionlint itself failing.
    if (code !== 1) throw new Error(`actionlint failed (${code}): ${stderr}`);
    return String(stdout).trim();
  }
}

describe('GitHub Actions workflows', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lookout-actionlint-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('pass actionlint with no finding', async () => {
    const files = readdirSync(workflowsDir)
      .filter((name) => /\.ya?ml$/.test(name))
      .map((name) => join(workflowsDir, name));
    assert.deepEqual(files.map((file) => file.slice(workflowsDir.length + 1)).sort(), ['ci.yml', 'perf.yml']);
    assert.equal(await actionlint(files), '');
  });

  it('would fail on a broken workflow', async () => {
    const broken = join(scratch, 'broken.yml');
    writeFileSync(
      broken,
      [
        'on: pull_request',
        'jobs:',
        '  test:',
        '    runs-on: ubuntu-24.04',
        '    steps:',
        '      - uses: actions/checkout@v6',
        '        with: { fetch-deep: 0 }',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, on purpose
        '      - run: echo "${{ github.event.pull_request.title }}"',
        '',
      ].join('\n'),
    );
    const findings = await actionlint([broken]);
    assert.match(findings, /input "fetch-deep" is not defined/);
    assert.match(findings, /"github\.event\.pull_request\.title" is potentially untrusted/);
  });
});
