import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Lookout } from '../../src/main.ts';
import { startTestLookout } from '../support/lookout.ts';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const conformanceCli = join(
  dirname(require.resolve('@modelcontextprotocol/conformance/package.json')),
  'dist/index.js',
);

function runSuite(url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // The suite's CLI needs Node >= 22: run it with this same (npm-installed) Node binary.
    const child = spawn(
      process.execPath,
      [
        conformanceCli,
        'server',
        '--url',
        url,
        '--suite',
        'active',
        '--expected-failures',
        join(here, 'baseline.yml'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

let lookout: Lookout;
before(async () => {
  lookout = await startTestLookout({ tools: [join(here, 'fixtures.ts')] });
});
after(() => lookout.close());

it('passes every active server scenario of the official MCP conformance suite', {
  timeout: 300_000,
}, async () => {
  const { code, output } = await runSuite(lookout.url);
  const summary = output.match(/Total: (\d+) passed, (\d+) failed/);
  process.stdout.write(`conformance: ${summary?.[0] ?? 'no summary'}\n`);
  assert.ok(summary, output);
  assert.equal(summary[2], '0', output);
  assert.ok(Number(summary[1]) >= 30, `at least one check per active scenario:\n${output}`);
  assert.equal(code, 0, output);
});
