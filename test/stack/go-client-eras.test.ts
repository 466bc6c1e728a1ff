/**
 * The Go SDK's client (github.com/modelcontextprotocol/go-sdk, test/interop/go-client, built by
 * `npm run tools`) on Lookout's `/mcp`, in both eras: left to itself it negotiates 2026-07-28 with
 * `server/discover` (no session) and answers an elicitation through InputRequiredResult rounds;
 * asked for 2025-11-25 it starts with `initialize`, keeps a session and answers the same question
 * as a server→client request. It repeats `x-mcp-header` arguments in `Mcp-Param-*` headers, which
 * Lookout checks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { defineTool } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { toolPath } from '../../support/tools.ts';
import { startTestLookout } from '../support/lookout.ts';

const run = promisify(execFile);
const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../conformance/fixtures.ts');
const elicitingTool = 'test_input_required_result_elicitation';
const answering = { GO_CLIENT_ELICIT: '{"name":"Gopher"}' };

const deploy = defineTool({
  name: 'deploy',
  description: 'Deploys to a region; proxies route on the region header.',
  input: z.object({
    region: z.string().meta({ 'x-mcp-header': 'Region' }),
    replicas: z.number().int().meta({ 'x-mcp-header': 'Replicas' }),
  }),
  handler: ({ region, replicas }) => `deployed ${replicas} to ${region}`,
});

interface GoReport {
  protocolVersion: string;
  sessionId: string;
  tools: string[];
  calls: { isError: boolean; text: string; error?: string }[];
  elicitations: string[];
}

/** One Go client process; `env`: GO_CLIENT_ELICIT (the answer to every question), GO_CLIENT_PROTOCOL. */
async function goClient(url: string, env: Record<string, string>, calls: unknown[]): Promise<GoReport> {
  const child = run(toolPath('mcp-go-client'), [url], {
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 60_000,
  });
  child.child.stdin?.end(JSON.stringify(calls));
  const { stdout } = await child;
  return JSON.parse(stdout) as GoReport;
}

/** The methods Lookout logged, in order, for requests of the given session (or of none). */
function loggedMethods(lines: string[], session: string | undefined): string[] {
  return lines
    .map((line) => JSON.parse(line) as { message: string; method?: string; session?: string })
    .filter((record) => record.message === 'mcp request' && record.session === session)
    .map((record) => String(record.method));
}

describe('the Go SDK client on both eras', () => {
  let lookout: Lookout & { logLines: string[] };
  before(async () => {
    toolPath('mcp-go-client');
    lookout = await startTestLookout(
      { tools: [fixtures], log: { level: 'info', format: 'json' } },
      { definitions: [deploy] },
    );
  });
  after(() => lookout.close());

  it('negotiates 2026-07-28 by itself: lists tools and answers an elicitation through InputRequiredResult', async () => {
    lookout.logLines.length = 0;
    const report = await goClient(lookout.url, answering, [{ name: elicitingTool, arguments: {} }]);
    assert.equal(report.protocolVersion, '2026-07-28');
    assert.equal(report.sessionId, '', 'a modern client has no session');
    assert.ok(report.tools.includes(elicitingTool), report.tools.join(', '));
    assert.deepEqual(report.calls, [{ isError: false, text: 'Hello, Gopher!' }]);
    assert.deepEqual(report.elicitations, ['What is your name?']);
    const methods = loggedMethods(lookout.logLines, undefined);
    assert.equal(methods[0], 'server/discover', methods.join(', '));
    assert.ok(!methods.includes('initialize'), methods.join(', '));
    assert.equal(
      methods.filter((m) => m === 'tools/call').length,
      2,
      'the question and the retry with its answer',
    );
  });

  it('asked for 2025-11-25: initialize, a session, and the question as a server→client request', async () => {
    lookout.logLines.length = 0;
    const report = await goClient(lookout.url, { ...answering, GO_CLIENT_PROTOCOL: '2025-11-25' }, [
      { name: elicitingTool, arguments: {} },
    ]);
    assert.equal(report.protocolVersion, '2025-11-25');
    assert.ok(report.sessionId, 'a legacy client keeps its session');
    assert.deepEqual(report.calls, [{ isError: false, text: 'Hello, Gopher!' }]);
    assert.deepEqual(report.elicitations, ['What is your name?']);
    const methods = loggedMethods(lookout.logLines, report.sessionId);
    assert.equal(methods[0], 'initialize', methods.join(', '));
    assert.equal(
      methods.filter((m) => m === 'tools/call').length,
      1,
      'one call; the answer came on the session',
    );
  });

  it('without elicitation declared, the eliciting tool is refused with -32021 and the client goes on', async () => {
    const report = await goClient(lookout.url, {}, [
      { name: elicitingTool, arguments: {} },
      { name: 'test_simple_text', arguments: {} },
    ]);
    assert.equal(report.protocolVersion, '2026-07-28');
    assert.match(report.calls[0]?.error ?? '', /Missing required client capability: elicitation/);
    assert.deepEqual(report.calls[1], {
      isError: false,
      text: 'This is a simple text response for testing.',
    });
  });

  it('repeats x-mcp-header arguments in Mcp-Param-* headers, so the checked call runs', async () => {
    const report = await goClient(lookout.url, {}, [
      { name: 'deploy', arguments: { region: 'Zürich', replicas: 3 } },
    ]);
    assert.equal(report.protocolVersion, '2026-07-28');
    assert.deepEqual(report.calls, [{ isError: false, text: 'deployed 3 to Zürich' }]);
  });
});
