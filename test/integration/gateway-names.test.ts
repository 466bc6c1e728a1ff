import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defineTool } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { connectClient, startTestLookout, upstreamsReady } from '../support/lookout.ts';

const fixture = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));
const stdioFixture = (name: string, prefix: boolean) => ({
  name,
  transport: 'stdio',
  command: process.execPath,
  args: [fixture],
  prefix,
  isolation: 'shared',
  health: { intervalSeconds: 0 },
});

/** Lookout's own tool by a name the fixture upstreams also serve. */
const ownFail = defineTool({
  name: 'fail',
  description: "Lookout's own, whatever an upstream serves.",
  input: z.object({}),
  handler: () => 'lookout',
});

let lookout: Lookout & { logLines: string[] };

before(async () => {
  lookout = await startTestLookout(
    {
      upstreams: [stdioFixture('first', false), stdioFixture('second', false), stdioFixture('third', true)],
      log: { level: 'warn', format: 'json' },
    },
    { definitions: [ownFail] },
  );
  await upstreamsReady(lookout);
});
after(() => lookout.close());

it('serves an upstream with prefix: false under its own names; a clash keeps Lookout, then config order', async () => {
  const client = await connectClient(lookout.url);
  try {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('report_meta'), names.join(' '));
    assert.ok(names.includes('third__report_meta'), 'a prefixed upstream keeps its prefix');
    assert.ok(!names.some((n) => n.startsWith('first__') || n.startsWith('second__')), names.join(' '));
    assert.equal(names.filter((n) => n === 'report_meta').length, 1);

    const own = await client.callTool({ name: 'fail', arguments: {} });
    assert.equal(own.isError, undefined, "Lookout's own `fail` answers, not the upstream's");
    assert.deepEqual(own.content, [{ type: 'text', text: 'lookout' }]);

    const warning = lookout.logLines
      .map((line) => JSON.parse(line) as { message: string; skipped?: string[] })
      .filter((l) => l.message === 'upstream entries skipped: already served')
      .at(-1);
    assert.ok(warning?.skipped, lookout.logLines.join('\n'));
    assert.ok(warning.skipped.includes('first: tool fail'), warning.skipped.join(', '));
    assert.ok(warning.skipped.includes('second: tool report_meta'), warning.skipped.join(', '));
    assert.ok(!warning.skipped.some((s) => s.startsWith('first: tool report_meta')));
    assert.ok(!warning.skipped.some((s) => s.startsWith('third:')), warning.skipped.join(', '));
  } finally {
    await client.close();
  }
});

it('the live view shows the protocol version each stdio upstream speaks', async () => {
  const res = await fetch(new URL('/live/events', lookout.url));
  const reader = res.body?.getReader();
  const first = new TextDecoder().decode((await reader?.read())?.value);
  await reader?.cancel();
  const snapshot = JSON.parse(first.split('\n')[1]?.slice('data: '.length) ?? '') as {
    upstreams: { name: string; protocolVersion?: string; era?: string }[];
  };
  assert.deepEqual(
    snapshot.upstreams.map((u) => [u.name, u.protocolVersion, u.era]),
    [
      ['first', '2025-11-25', '2025'],
      ['second', '2025-11-25', '2025'],
      ['third', '2025-11-25', '2025'],
    ],
  );
});
