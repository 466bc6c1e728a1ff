/**
 * The Inspector's CLI (`mcp-inspector --cli`, a devDependency) on Lookout's `/mcp` in each of its
 * `--protocol-era` modes: it lists the tools and calls one. The CLI never declares elicitation (it
 * has no one to ask), so an eliciting tool is refused with -32021 rather than left waiting.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Lookout } from '../../src/main.ts';
import { startTestLookout } from '../support/lookout.ts';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '../conformance/fixtures.ts');
const inspectorBin = join(here, '../../node_modules/.bin/mcp-inspector');

interface Logged {
  message: string;
  method?: string;
  session?: string;
  error_code?: string;
}

describe('the Inspector CLI on both eras', () => {
  let lookout: Lookout & { logLines: string[] };
  let home = '';
  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'lookout-inspector-'));
    lookout = await startTestLookout({ tools: [fixtures], log: { level: 'info', format: 'json' } });
  });
  after(async () => {
    await lookout.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** One CLI process, its state kept in the test's temp home: its `--format json` answer. */
  async function inspector(
    era: string,
    args: string[],
  ): Promise<{ result?: Record<string, unknown>; error?: { message?: string } }> {
    try {
      const { stdout } = await run(
        process.execPath,
        [
          inspectorBin,
          '--cli',
          lookout.url,
          '--transport',
          'http',
          '--protocol-era',
          era,
          '--format',
          'json',
          ...args,
        ],
        {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: home,
            MCP_CATALOG_PATH: join(home, 'catalog.json'),
            MCP_CLIENT_CONFIG_PATH: join(home, 'client.json'),
          },
          timeout: 60_000,
        },
      );
      return JSON.parse(stdout);
    } catch (error) {
      // A failed call exits non-zero with its error envelope on stderr.
      const { stderr } = error as { stderr?: string };
      if (stderr?.startsWith('{"error"')) return JSON.parse(stderr);
      throw error;
    }
  }

  function requestsLogged(): Logged[] {
    return lookout.logLines
      .map((line) => JSON.parse(line) as Logged)
      .filter((record) => record.message === 'mcp request');
  }

  for (const [era, expected] of [
    ['legacy', 'legacy'],
    ['auto', 'modern'],
    ['modern', 'modern'],
  ] as const) {
    const version = expected === 'modern' ? '2026-07-28' : '2025-11-25';
    it(`--protocol-era ${era} lists the tools and calls one, speaking ${version}`, async () => {
      lookout.logLines.length = 0;
      const listing = await inspector(era, ['--method', 'tools/list']);
      const names = ((listing.result?.tools ?? []) as { name: string }[]).map((tool) => tool.name);
      assert.ok(names.includes('test_simple_text'), names.join(', ') || JSON.stringify(listing.error));
      const called = await inspector(era, ['--method', 'tools/call', '--tool-name', 'test_simple_text']);
      assert.deepEqual(called.result?.content, [
        { type: 'text', text: 'This is a simple text response for testing.' },
      ]);

      const logged = requestsLogged();
      const methods = logged.map((record) => record.method);
      if (expected === 'modern') {
        assert.ok(methods.includes('server/discover'), methods.join(', '));
        assert.ok(!methods.includes('initialize'), methods.join(', '));
        assert.ok(
          logged.every((record) => record.session === undefined),
          'no modern request has a session',
        );
      } else {
        assert.ok(methods.includes('initialize'), methods.join(', '));
        assert.ok(!methods.includes('server/discover'), methods.join(', '));
        const calls = logged.filter((record) => record.method === 'tools/call');
        assert.equal(calls.length, 1);
        assert.ok(calls[0]?.session, 'a legacy call runs in a session');
      }
    });
  }

  it('declares no elicitation, so an eliciting tool is refused with -32021 in either era', async () => {
    for (const era of ['legacy', 'modern']) {
      lookout.logLines.length = 0;
      const answer = await inspector(era, [
        '--method',
        'tools/call',
        '--tool-name',
        'test_input_required_result_elicitation',
      ]);
      assert.match(
        answer.error?.message ?? '',
        /Missing required client capability: elicitation/,
        `${era}: ${JSON.stringify(answer)}`,
      );
      const call = requestsLogged().find((record) => record.method === 'tools/call');
      assert.equal(call?.error_code, '-32021', era);
    }
  });
});
