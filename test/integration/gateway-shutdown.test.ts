import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { ready } from '../support/lookout.ts';
import { spawnLookout } from '../support/process.ts';

const everything = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);
const fixture = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));

/** A client as desktop apps connect: it offers roots, which server-everything asks for. */
async function rootsClient(url: string, name: string): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: 'file:///tmp', name: 'tmp' }],
  }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/**
 * Two sessions call a tool of each stdio upstream, then Lookout gets SIGTERM. Nothing fails there, so
 * its log holds no warning or error: not the clients reopening their streams during the drain, not an
 * upstream still talking (a list change, a request) after its stdin was closed.
 */
it('a plain SIGTERM with sessions open on stdio upstreams logs no warning: closing is not a failure', {
  timeout: 60_000,
}, async () => {
  const config = join(tmpdir(), `lookout-shutdown-${process.pid}.yaml`);
  const node = JSON.stringify(process.execPath);
  writeFileSync(
    config,
    [
      'upstreams:',
      `  - { name: ev, transport: stdio, command: ${node}, args: [${JSON.stringify(everything)}, stdio], required: true }`,
      `  - { name: fx, transport: stdio, command: ${node}, args: [${JSON.stringify(fixture)}], env: { FIXTURE_TALK_AT_CLOSE: "1" }, required: true }`,
    ].join('\n'),
  );
  const lookout = await spawnLookout(['--config', config], { OTEL_SDK_DISABLED: 'true' });
  const clients: Client[] = [];
  try {
    await ready(lookout.url);
    for (const name of ['one', 'two']) {
      const client = await rootsClient(lookout.url, name);
      clients.push(client);
      const echo = await client.callTool({ name: 'ev__echo', arguments: { message: 'hi' } });
      assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: hi' }]);
      await client.callTool({ name: 'fx__report_meta', arguments: {} });
    }
  } catch (error) {
    lookout.child.kill('SIGKILL');
    throw error;
  }
  const code = await lookout.stop('SIGTERM');
  await Promise.all(clients.map((c) => c.close()));
  assert.equal(code, 0, lookout.stderr.join(''));
  const lines = lookout.lines.map((l) => JSON.parse(l) as { level: string; message: string });
  assert.equal(lines.at(-1)?.message, 'stopped');
  const complaints = lines.filter((l) => l.level === 'warn' || l.level === 'error');
  assert.deepEqual(complaints, [], 'nothing went wrong, so nothing is reported as wrong');
});
