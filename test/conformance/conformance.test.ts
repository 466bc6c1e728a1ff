import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { definePrompt, defineTool } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { rpc, startTestLookout } from '../support/lookout.ts';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const conformanceCli = join(
  dirname(require.resolve('@modelcontextprotocol/conformance/package.json')),
  'dist/index.js',
);

/** Runs every scenario a spec revision requires, against the revision's expected-failures file. */
function runRequirements(url: string, revision: string): Promise<{ code: number | null; output: string }> {
  return runConformance([
    '--url',
    url,
    '--requirements',
    revision,
    '--expected-failures',
    join(here, `baseline-${revision}.yml`),
  ]);
}

function runConformance(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // The suite's CLI needs Node >= 22: run it with this same (npm-installed) Node binary.
    const child = spawn(process.execPath, [conformanceCli, 'server', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
let added = 0;
/**
 * Definitions beside the fixture module: the hooks the 2026-07-28 listen checks call to change the
 * tool and prompt lists (they register a new definition on the running Lookout, which tells every
 * listen stream that asked), and a tool with `x-mcp-header` arguments.
 */
const listChangers = [
  defineTool({
    name: 'test_trigger_tool_change',
    description: 'Adds a tool, so the tool list changes.',
    input: z.object({}),
    handler: () => {
      const name = `added_tool_${++added}`;
      lookout.register(
        defineTool({ name, description: 'Added at run time.', input: z.object({}), handler: () => name }),
      );
      return `added ${name}`;
    },
  }),
  defineTool({
    name: 'test_trigger_prompt_change',
    description: 'Adds a prompt, so the prompt list changes.',
    input: z.object({}),
    handler: () => {
      const name = `added_prompt_${++added}`;
      lookout.register(definePrompt({ name, description: 'Added at run time.', get: () => name }));
      return `added ${name}`;
    },
  }),
  // `http-custom-header-server-validation` needs a tool with a string `x-mcp-header` argument.
  defineTool({
    name: 'test_custom_header_params',
    description: 'Takes a region and a priority that clients repeat in Mcp-Param-* headers.',
    input: z.object({
      region: z.string().meta({ 'x-mcp-header': 'Region' }),
      priority: z.number().int().optional().meta({ 'x-mcp-header': 'Priority' }),
    }),
    handler: ({ region }) => `region ${region}`,
  }),
];

before(async () => {
  lookout = await startTestLookout({ tools: [join(here, 'fixtures.ts')] }, { definitions: listChangers });
  // Some scenarios give the server well under a second: warm the code paths both eras take first.
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const headers = {
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': 'test_simple_text',
  };
  await rpc(
    lookout.url,
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'test_simple_text', arguments: {}, _meta: meta },
    },
    headers,
  );
});
after(() => lookout.close());

for (const revision of ['2026-07-28', '2025-11-25']) {
  it(`passes every server scenario conformance requires for ${revision}, with an empty baseline`, {
    timeout: 300_000,
  }, async () => {
    const { code, output } = await runRequirements(lookout.url, revision);
    const summary = output.match(/Total: (\d+) passed, (\d+) failed/);
    process.stdout.write(`conformance ${revision}: ${summary?.[0] ?? 'no summary'}\n`);
    assert.ok(summary, output);
    assert.ok(Number(summary[1]) >= 70, `at least one check per required scenario:\n${output}`);
    // Exit 0: every required scenario passed, with nothing listed as expected to fail.
    assert.equal(code, 0, output);
    if (revision === '2026-07-28') {
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
