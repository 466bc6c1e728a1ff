import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttp,
  ProtocolError,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Lookout } from '../../src/main.ts';
import { startTestLookout, upstreamsReady } from '../support/lookout.ts';

/** The conformance fixture in a process of its own, spoken to over stdio in the 2025 era. */
const fixtureUpstream = fileURLToPath(new URL('../conformance/fixture-upstream.ts', import.meta.url));
const answer = { action: 'accept', content: { username: 'ann', email: 'ann@example.com' } } as const;
const text = (result: unknown) => (result as { content?: { text?: string }[] }).content?.[0]?.text;

let lookout: Lookout;

before(async () => {
  lookout = await startTestLookout({
    upstreams: [
      {
        name: 'fixture',
        transport: 'stdio',
        command: process.execPath,
        args: [fixtureUpstream, '--stdio'],
        // The fixture serves both eras; this file is about a 2025 upstream.
        era: 'legacy',
        health: { intervalSeconds: 0 },
      },
    ],
  });
  await upstreamsReady(lookout, 60_000);
});
after(() => lookout.close());

it("a 2026-07-28 client answers a 2025 upstream's elicitation by an InputRequiredResult round", async () => {
  const client = new ModernClient(
    { name: 'modern', version: '1.0.0' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const asked: string[] = [];
  client.setRequestHandler('elicitation/create', (request) => {
    asked.push(request.params.message);
    return answer;
  });
  await client.connect(new ModernHttp(new URL(lookout.url)));
  try {
    const result = await client.callTool({
      name: 'fixture__test_elicitation',
      arguments: { message: 'Who?' },
    });
    assert.deepEqual(asked, ['Who?'], 'asked once, by the InputRequiredResult of the first round');
    assert.equal(
      text(result),
      'Elicitation completed: action=accept, content={"username":"ann","email":"ann@example.com"}',
    );
  } finally {
    await client.close();
  }
});

it('a 2026-07-28 client that did not declare elicitation gets -32021, not the upstream tool failing', async () => {
  const client = new ModernClient(
    { name: 'modern-plain', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(new ModernHttp(new URL(lookout.url)));
  try {
    await assert.rejects(
      client.callTool({ name: 'fixture__test_elicitation', arguments: { message: 'Who?' } }),
      (error: unknown) => error instanceof ProtocolError && error.code === -32021,
    );
  } finally {
    await client.close();
  }
});

it("a 2025 client answers a 2025 upstream's elicitation as a request on its session", async () => {
  const client = new Client({ name: 'legacy', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  const asked: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    asked.push(request.params.message);
    return answer;
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(lookout.url)));
  try {
    const result = await client.callTool({
      name: 'fixture__test_elicitation',
      arguments: { message: 'Who?' },
    });
    assert.deepEqual(asked, ['Who?']);
    assert.match(text(result) ?? '', /action=accept/);
  } finally {
    await client.close();
  }
});
