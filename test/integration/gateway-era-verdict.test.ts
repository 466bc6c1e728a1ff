/**
 * `era: auto`, the default: each upstream's era is probed once (`server/discover`, else `initialize`)
 * and the verdict kept for every later connection to it; a stdio child that exits on the probe is
 * taken as 2025: its restart is spoken to with `initialize`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startTestLookout, upstreamsReady } from '../support/lookout.ts';

const probeServer = fileURLToPath(new URL('../fixtures/era-probe-server.ts', import.meta.url));
const fixtureUpstream = fileURLToPath(new URL('../conformance/fixture-upstream.ts', import.meta.url));
/** The npm servers the gateway matrix runs, from their installed bins. */
const npmServer = (name: string) =>
  fileURLToPath(
    new URL(`../../node_modules/@modelcontextprotocol/server-${name}/dist/index.js`, import.meta.url),
  );

type TestLookout = Awaited<ReturnType<typeof startTestLookout>>;

let work = '';
before(() => {
  work = mkdtempSync(join(tmpdir(), 'lookout-era-verdict-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** What the upstream's processes were asked, one entry per process started: its pid and methods. */
function journal(file: string): { pid: number; methods: string[] }[] {
  const processes: { pid: number; methods: string[] }[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const start = line.match(/^start (\d+)$/);
    if (start) processes.push({ pid: Number(start[1]), methods: [] });
    else processes.at(-1)?.methods.push(line);
  }
  return processes;
}

const count = (file: string, method: string) =>
  journal(file)
    .flatMap((p) => p.methods)
    .filter((m) => m === method).length;

/** Each upstream's protocol version, as the live view shows it. */
async function versions(lookout: TestLookout): Promise<Record<string, string | undefined>> {
  const res = await fetch(new URL('/live/events', lookout.url));
  const reader = res.body?.getReader();
  const first = new TextDecoder().decode((await reader?.read())?.value);
  await reader?.cancel();
  const snapshot = JSON.parse(first.split('\n')[1]?.slice('data: '.length) ?? '') as {
    upstreams: { name: string; protocolVersion?: string }[];
  };
  return Object.fromEntries(snapshot.upstreams.map((u) => [u.name, u.protocolVersion]));
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const text = (result: unknown) => (result as { content?: { text?: string }[] }).content?.[0]?.text;
const logged = (lookout: TestLookout, message: string) =>
  lookout.logLines.map((l) => JSON.parse(l) as { message: string }).filter((l) => l.message === message);

describe('a 2025 stdio server, with no era configured', () => {
  const behaviours = {
    answers: 'answers the probe with an error',
    silent: 'leaves the probe unanswered',
    'exit-on-probe': 'exits on the probe',
  } as const;
  for (const mode of ['answers', 'silent', 'exit-on-probe'] as const) {
    it(`that ${behaviours[mode]}: probed once, then every connection (a restart, an isolated one) starts with initialize`, {
      timeout: 60_000,
    }, async () => {
      const file = join(work, `${mode}.journal`);
      const lookout = await startTestLookout({
        upstreams: [
          {
            name: 'old',
            transport: 'stdio',
            command: process.execPath,
            args: [probeServer, file, mode],
            timeouts: { probeSeconds: 1 },
            health: { intervalSeconds: 0 },
            restart: { initialBackoffSeconds: 0.05 },
          },
        ],
      });
      let client: Client | undefined;
      try {
        await upstreamsReady(lookout, 20_000);
        assert.equal((await versions(lookout)).old, '2025-11-25');
        const first = journal(file);
        assert.deepEqual(first[0]?.methods.slice(0, 1), ['server/discover'], 'the first process is probed');
        if (mode === 'exit-on-probe') {
          assert.equal(first.length, 2, 'the child that exited on the probe is started again');
          assert.deepEqual(first[1]?.methods.slice(0, 1), ['initialize']);
        } else {
          assert.equal(first.length, 1, 'spoken to in 2025 on the same pipe');
          assert.deepEqual(first[0]?.methods.slice(0, 2), ['server/discover', 'initialize']);
        }
        assert.equal(
          logged(
            lookout,
            'upstream exited on the server/discover probe: it is spoken to in 2025 from its restart',
          ).length,
          mode === 'exit-on-probe' ? 1 : 0,
        );

        // The catalog's child crashes: the one started in its place is spoken to in 2025 at once.
        const serving = first.at(-1);
        assert.ok(serving);
        process.kill(serving.pid, 'SIGKILL');
        await until('the restarted child', () => journal(file).length > first.length);
        await upstreamsReady(lookout, 20_000);

        // A client's call opens an isolated connection (its own child), on the same verdict.
        client = await connectClient(lookout.url);
        const pid = Number(text(await client.callTool({ name: 'old__pid', arguments: {} })));
        const processes = journal(file);
        const isolated = processes.find((p) => p.pid === pid);
        assert.ok(isolated && isolated.pid !== serving.pid, 'the call ran in a child of its own');
        for (const later of processes.slice(first.length))
          assert.deepEqual(later.methods.slice(0, 1), ['initialize'], `process ${later.pid} was not probed`);
        assert.equal(count(file, 'server/discover'), 1, 'one probe in all');
        assert.equal(
          logged(
            lookout,
            'upstream exited on the server/discover probe: it is spoken to in 2025 from its restart',
          ).length,
          mode === 'exit-on-probe' ? 1 : 0,
          'logged once',
        );
      } finally {
        await client?.close();
        await lookout.close();
      }
    });
  }
});

describe('the default-config gateway (no era given)', () => {
  let lookout: TestLookout;
  const file = () => join(work, 'modern.journal');

  before(async () => {
    lookout = await startTestLookout({
      upstreams: [
        {
          name: 'memory',
          transport: 'stdio',
          command: process.execPath,
          args: [npmServer('memory')],
          env: { MEMORY_FILE_PATH: join(work, 'memory.jsonl') },
          health: { intervalSeconds: 0 },
        },
        ...[
          { name: 'everything', args: [npmServer('everything'), 'stdio'] },
          { name: 'filesystem', args: [npmServer('filesystem'), work] },
          { name: 'thinking', args: [npmServer('sequential-thinking')] },
        ].map((server) => ({
          ...server,
          transport: 'stdio',
          command: process.execPath,
          health: { intervalSeconds: 0 },
        })),
        {
          name: 'modern',
          transport: 'stdio',
          command: process.execPath,
          args: [fixtureUpstream, '--stdio'],
          env: { FIXTURE_JOURNAL: file() },
          health: { intervalSeconds: 0 },
          restart: { initialBackoffSeconds: 0.05 },
        },
      ],
      log: { level: 'info', format: 'json' },
    });
    await upstreamsReady(lookout, 60_000);
  });
  after(() => lookout?.close());

  it('reaches the 2025 npm servers and a 2026-07-28 server, each in its own era', async () => {
    assert.deepEqual(await versions(lookout), {
      memory: '2025-11-25',
      everything: '2025-11-25',
      filesystem: '2025-11-25',
      thinking: '2025-11-25',
      modern: '2026-07-28',
    });
    const client = await connectClient(lookout.url);
    try {
      const graph = await client.callTool({ name: 'memory__read_graph', arguments: {} });
      assert.equal(graph.isError, undefined);
      const echo = await client.callTool({ name: 'modern__test_simple_text', arguments: {} });
      assert.match(text(echo) ?? '', /simple text/i);
    } finally {
      await client.close();
    }
  });

  it('keeps the 2026-07-28 verdict: a restarted child and an isolated connection are not probed, the lists follow changes again', {
    timeout: 60_000,
  }, async () => {
    const before = journal(file());
    const serving = before[0];
    assert.ok(serving);
    assert.equal(count(file(), 'initialize'), 0);
    process.kill(serving.pid, 'SIGKILL');
    await until('the restarted child', () => journal(file()).length > before.length);
    await upstreamsReady(lookout, 30_000);
    assert.equal((await versions(lookout)).modern, '2026-07-28');
    const processes = journal(file());
    // The first test's call opened an isolated connection: its child, and the restarted one.
    assert.ok(processes.length >= 3, `${processes.length} processes`);
    for (const later of processes.slice(1)) {
      assert.ok(!later.methods.includes('server/discover'), `process ${later.pid} was not probed`);
      assert.ok(!later.methods.includes('initialize'), `process ${later.pid} speaks 2026-07-28`);
    }
    // The connection made on the kept verdict opened its listen stream, as the probing one did.
    await until(
      'the listen stream',
      () => journal(file()).at(-1)?.methods.includes('subscriptions/listen') ?? false,
    );
  });
});
