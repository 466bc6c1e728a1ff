import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { PromptListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, ready } from '../support/lookout.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';

const fixture = fileURLToPath(new URL('../fixtures/resource-server.ts', import.meta.url));

/** An upstream serving the fixture's `counter` resources under the scheme of its name. */
function upstream(name: string, extra: Record<string, unknown>) {
  return {
    name,
    transport: 'stdio',
    command: process.execPath,
    args: [fixture],
    env: { FIXTURE_SCHEME: name },
    required: true,
    ...extra,
  };
}

async function read(client: Client, uri: string): Promise<string> {
  const result = await client.readResource({ uri });
  return (result.contents[0] as { text: string }).text;
}

/** The value of one Prometheus series whose labels include all of `labels` (0 when absent). */
function series(metrics: string, name: string, labels: Record<string, string>): number {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return 0;
}

describe('response cache of upstream resource reads', () => {
  let lookout: LookoutProcess;
  const clients: Client[] = [];
  let first: Client;
  let second: Client;

  const metrics = async () => (await fetch(new URL('/metrics', lookout.url))).text();

  before(async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'lookout-cache-')), 'lookout.json');
    writeFileSync(
      config,
      JSON.stringify({
        upstreams: [
          // Isolated (a process per session without auth), answers kept 60 s.
          upstream('rc', { cache: { ttlSeconds: 60 } }),
          // Shared by all clients; kept only as the upstream's own hints allow.
          upstream('rh', { isolation: 'shared' }),
          // Room for two answers.
          upstream('re', { isolation: 'shared', cache: { ttlSeconds: 60, maxEntries: 2 } }),
          // Its prompt list changes at every read, says so only with its ttlMs.
          {
            ...upstream('rl', { isolation: 'shared' }),
            env: { FIXTURE_SCHEME: 'rl', FIXTURE_PROMPTS_TTL_MS: '1000' },
          },
        ],
      }),
    );
    lookout = await spawnLookout(['--config', config]);
    await ready(lookout.url);
    first = await connectClient(lookout.url, 'first');
    second = await connectClient(lookout.url, 'second');
    clients.push(first, second);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await lookout?.stop();
  });

  it('serves a repeated read from the cache, to the connection that read it only', async () => {
    const once = await read(first, 'rc://plain');
    assert.equal(await read(first, 'rc://plain'), once, 'the second read is the cached answer');
    const other = await read(second, 'rc://plain');
    assert.notEqual(other.split(':')[0], once.split(':')[0], 'another session, another process');
    assert.equal(other.split(':')[1], '1', "the other session's own first read, not the first's entry");
    assert.equal(await read(second, 'rc://plain'), other);
  });

  it('drops an answer when the upstream says the resource changed, or its resource list changed', async () => {
    const before = await read(first, 'rc://public');
    assert.equal(await read(first, 'rc://public'), before);
    await first.callTool({ name: 'rc__touch', arguments: { uri: 'rc://public' } });
    const touched = await read(first, 'rc://public');
    assert.notEqual(touched, before, 'read again after notifications/resources/updated');
    assert.equal(await read(first, 'rc://public'), touched, 'and kept again');
    await first.callTool({ name: 'rc__add_resource', arguments: {} });
    assert.notEqual(await read(first, 'rc://public'), touched, 'read again after list_changed');
  });

  it("honours the upstream's ttlMs and cacheScope (2026-07-28 hints)", async () => {
    // ttlMs 0 wins over cache.ttlSeconds.
    assert.notEqual(await read(first, 'rc://no-store'), await read(first, 'rc://no-store'));
    // Without cache.ttlSeconds, an answer without hints is not kept…
    assert.notEqual(await read(first, 'rh://plain'), await read(first, 'rh://plain'));
    // …one marked public is kept for every client of the shared connection…
    const shared = await read(first, 'rh://public');
    assert.equal(await read(second, 'rh://public'), shared);
    // …and one marked private for the caller alone.
    const mine = await read(first, 'rh://private');
    assert.equal(await read(first, 'rh://private'), mine);
    const theirs = await read(second, 'rh://private');
    assert.notEqual(theirs, mine, "the second client does not get the first one's private answer");
    assert.equal(await read(second, 'rh://private'), theirs);
  });

  it("reads an upstream's lists again when their ttlMs runs out, and tells clients", async () => {
    const prompts = async () =>
      (await first.listPrompts()).prompts.map((p) => p.name).filter((n) => n.startsWith('rl__'));
    const [initial] = await prompts();
    assert.match(initial ?? '', /^rl__p\d+$/);
    const changed = new Promise<void>((resolve) =>
      first.setNotificationHandler(PromptListChangedNotificationSchema, () => resolve()),
    );
    const deadline = Date.now() + 10_000;
    let current = initial;
    while (current === initial && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      [current] = await prompts();
    }
    assert.notEqual(current, initial, 'the prompt list was read again');
    await changed;
  });

  it('counts hits, misses and evictions on /metrics', async () => {
    const labels = (upstream: string, result: string) => ({
      lookout_upstream: upstream,
      mcp_method_name: 'resources/read',
      lookout_cache_result: result,
    });
    const lookups = 'lookout_upstream_cache_lookups_total';
    const evictions = 'lookout_upstream_cache_evictions_total';
    const start = await metrics();
    await read(first, 're://plain');
    await read(first, 're://plain');
    await read(first, 're://plain');
    await read(first, 're://public');
    await read(first, 're://private');
    await first.callTool({ name: 're__touch', arguments: { uri: 're://private' } });
    const end = await metrics();
    const delta = (name: string, labels: Record<string, string>) =>
      series(end, name, labels) - series(start, name, labels);
    assert.equal(delta(lookups, labels('re', 'hit')), 2, end);
    assert.equal(delta(lookups, labels('re', 'miss')), 3);
    assert.equal(delta(evictions, { lookout_upstream: 're', lookout_cache_eviction_reason: 'size' }), 1);
    assert.equal(
      delta(evictions, { lookout_upstream: 're', lookout_cache_eviction_reason: 'invalidated' }),
      1,
    );
    // Every series is there from the start, at 0 until its first event.
    const fresh = (await metrics()).split('\n');
    assert.ok(fresh.some((l) => l.startsWith(`${evictions}{`) && l.includes('"expired"')));
    // No call waits for a lock: the gauge is there, at 0.
    assert.match(end, /^lookout_upstream_lock_waiting\{[^}]*lookout_upstream="re"[^}]*\} 0$/m);
  });
});
