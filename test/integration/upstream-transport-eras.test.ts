import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, ProtocolError } from '@modelcontextprotocol/client';
import type { Lookout } from '../../src/main.ts';
import { UpstreamHttpTransport } from '../../src/upstreams/http-transport.ts';
import { UpstreamStdioTransport } from '../../src/upstreams/stdio-transport.ts';
import { freePort } from '../../support/ports.ts';
import { startTestLookout } from '../support/lookout.ts';

const fixtures = fileURLToPath(new URL('../conformance/fixtures.ts', import.meta.url));
const everything = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);
const limit = { maxMessageBytes: 10 * 1024 * 1024, onOversized: () => undefined };

/** The 2.x SDK client as the gateway uses it: negotiating the era on Lookout's own transports. */
function negotiating(capabilities: Record<string, unknown> = {}): Client {
  return new Client(
    { name: 'era-test', version: '1.0.0' },
    { capabilities, versionNegotiation: { mode: 'auto' } },
  );
}

const text = (result: { content?: unknown }) =>
  (result.content as { text?: string }[] | undefined)?.[0]?.text;

let lookout: Lookout;
let legacyHttp: ChildProcess;
let legacyUrl: URL;

before(async () => {
  lookout = await startTestLookout({ tools: [fixtures] });
  const port = await freePort();
  legacyHttp = spawn(process.execPath, [everything, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve) =>
    legacyHttp.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
  );
  legacyUrl = new URL(`http://127.0.0.1:${port}/mcp`);
});
after(async () => {
  await lookout.close();
  legacyHttp.kill();
  await once(legacyHttp, 'exit');
});

it('over HTTP, a 2026-07-28 server is spoken to in 2026-07-28: headers, refusals and input rounds', async () => {
  const client = negotiating({ elicitation: {} });
  const asked: string[] = [];
  client.setRequestHandler('elicitation/create', (request) => {
    asked.push(request.params.message);
    return { action: 'accept', content: { username: 'ann', email: 'ann@example.com' } };
  });
  await client.connect(new UpstreamHttpTransport(new URL(lookout.url), {}, undefined, limit));
  try {
    assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'test_elicitation'));
    // Lookout answers with an InputRequiredResult; the client asks its handler, then retries.
    const result = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Who?' } });
    assert.deepEqual(asked, ['Who?']);
    assert.match(text(result) ?? '', /action=accept/);
    // A refusal comes as HTTP 400 with its JSON-RPC error: the client gets the server's own code.
    await assert.rejects(
      client.callTool({ name: 'test_missing_capability', arguments: {} }),
      (error: unknown) => error instanceof ProtocolError && error.code === -32021,
    );
  } finally {
    await client.close();
  }
});

it('over HTTP, a 2025 server is spoken to in 2025 after the probe', async () => {
  const client = negotiating();
  await client.connect(new UpstreamHttpTransport(legacyUrl, {}, undefined, limit));
  try {
    assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    assert.equal(text(result), 'Echo: hi');
  } finally {
    await client.close();
  }
});

it('over stdio, a 2025 server is spoken to in 2025 after the probe', async () => {
  const client = negotiating();
  const transport = new UpstreamStdioTransport({
    command: process.execPath,
    args: [everything, 'stdio'],
    env: { PATH: process.env.PATH ?? '' },
    ...limit,
    onStderrLine: () => {},
  });
  await client.connect(transport);
  try {
    assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    assert.equal(text(result), 'Echo: hi');
  } finally {
    await client.close();
  }
});
