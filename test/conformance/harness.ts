import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type Definition, definePrompt, defineTool } from '../../src/index.ts';
import { rpc } from '../support/lookout.ts';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const conformanceCli = join(
  dirname(require.resolve('@modelcontextprotocol/conformance/package.json')),
  'dist/index.js',
);

/** The conformance fixture module: the tools, resources and prompts the suite's scenarios call. */
export const fixtureModule = join(here, 'fixtures.ts');

/** Runs every scenario a spec revision requires, against an expected-failures file of this folder. */
export function runRequirements(
  url: string,
  revision: string,
  baseline: string,
): Promise<{ code: number | null; output: string }> {
  return runConformance([
    '--url',
    url,
    '--requirements',
    revision,
    '--expected-failures',
    join(here, baseline),
  ]);
}

/** Runs the suite's `server` command with these arguments. */
export function runConformance(args: string[]): Promise<{ code: number | null; output: string }> {
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

/**
 * The hooks the 2026-07-28 listen checks call to change the tool and prompt lists: they register a
 * new definition on the running Lookout (`register`), which tells every listen stream that asked; and
 * a tool with `x-mcp-header` arguments.
 */
export function listChangers(register: (definition: Definition) => void): Definition[] {
  let added = 0;
  return [
    defineTool({
      name: 'test_trigger_tool_change',
      description: 'Adds a tool, so the tool list changes.',
      input: z.object({}),
      handler: () => {
        const name = `added_tool_${++added}`;
        register(
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
        register(definePrompt({ name, description: 'Added at run time.', get: () => name }));
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
}

/** Some scenarios give the server well under a second: a first call warms the code paths both eras take. */
export async function warmUp(url: string): Promise<void> {
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
    url,
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'test_simple_text', arguments: {}, _meta: meta },
    },
    headers,
  );
}
