import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Lookout } from '../../src/main.ts';
import { connectClient, startTestLookout, upstreamsReady } from '../support/lookout.ts';

const fixture = fileURLToPath(new URL('../fixtures/resource-server.ts', import.meta.url));

function upstream(name: string, extra: Record<string, unknown>) {
  return {
    name,
    transport: 'stdio',
    command: process.execPath,
    args: [fixture],
    env: { FIXTURE_SCHEME: name },
    ...extra,
  };
}

/** When the fixture's `interval` tool started and ended, by its own clock. */
async function interval(
  client: Client,
  tool: string,
  ms: number,
  options: { signal?: AbortSignal } = {},
): Promise<{ start: number; end: number }> {
  const result = await client.callTool({ name: tool, arguments: { ms } }, undefined, options);
  return JSON.parse((result.content as { text: string }[])[0]?.text ?? '');
}

/** The JSON-RPC error code a promise rejects with, and how long it took to. */
async function failure(promise: Promise<unknown>): Promise<{ code: unknown; message: string; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    const { code, message } = error as { code?: unknown; message: string };
    return { code, message, ms: Date.now() - started };
  }
  assert.fail('expected the call to fail');
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('named locks on upstreams not safe to call concurrently', () => {
  let lookout: Lookout & { logLines: string[] };
  const clients: Client[] = [];
  let first: Client;
  let second: Client;

  before(async () => {
    lookout = await startTestLookout({
      upstreams: [
        // A process per session: the lock is the upstream's, across its processes.
        upstream('lk', { locks: { tools: { interval: 'slot', hang: 'slot' }, waitSeconds: 20 } }),
        upstream('lt', { isolation: 'shared', locks: { exclusive: true, waitSeconds: 0.5 } }),
        upstream('lm', {
          isolation: 'shared',
          locks: { tools: { interval: 'slot', hang: 'slot' }, maxHoldSeconds: 1 },
        }),
      ],
    });
    await upstreamsReady(lookout);
    first = await connectClient(lookout.url, 'first');
    second = await connectClient(lookout.url, 'second');
    clients.push(first, second);
    // Each session's own process is started by its first call, not under the lock being tested.
    for (const client of clients) await client.callTool({ name: 'lk__touch', arguments: { uri: 'lk://x' } });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await lookout?.close();
  });

  it('runs calls naming the same lock one at a time, across the processes of two sessions', async () => {
    const [a, b] = await Promise.all([
      interval(first, 'lk__interval', 400),
      interval(second, 'lk__interval', 400),
    ]);
    const [earlier, later] = a.start <= b.start ? [a, b] : [b, a];
    assert.ok(later.start >= earlier.end, `overlapping: ${JSON.stringify([a, b])}`);
  });

  it('fails a call that waits longer than waitSeconds with -32014, naming the upstream', async () => {
    const holder = interval(first, 'lt__interval', 3000);
    await pause(300);
    // Exclusive: a resource read waits for the same lock as a tool call.
    const read = await failure(second.readResource({ uri: 'lt://plain' }));
    assert.equal(read.code, -32014, read.message);
    assert.match(read.message, /lt: lock \(exclusive\) not free within 0\.5 s/);
    assert.ok(read.ms >= 400 && read.ms < 2500, `failed after ${read.ms} ms`);
    const held = await holder;
    assert.ok(held.end - held.start >= 2900, 'the holder ran to its end');
  });

  it('passes the lock on at once when its holder is cancelled, even if the upstream never answers', async () => {
    const cancel = new AbortController();
    const holder = first.callTool({ name: 'lk__hang', arguments: {} }, undefined, { signal: cancel.signal });
    holder.catch(() => undefined);
    await pause(300);
    const waiter = interval(second, 'lk__interval', 10);
    await pause(300);
    const cancelledAt = Date.now();
    cancel.abort();
    const done = await waiter;
    assert.ok(done.start - cancelledAt < 2000, `the waiter started ${done.start - cancelledAt} ms after`);
  });

  it('cancels a holder past maxHoldSeconds (-32011) and passes the lock on', async () => {
    const started = Date.now();
    const holder = failure(first.callTool({ name: 'lm__hang', arguments: {} }));
    await pause(200);
    const waiter = interval(second, 'lm__interval', 10);
    const held = await holder;
    assert.equal(held.code, -32011, held.message);
    assert.match(held.message, /held its lock "slot" longer than 1 s/);
    const done = await waiter;
    assert.ok(done.start - started < 5000, `the waiter started ${done.start - started} ms after`);
    assert.ok(
      lookout.logLines.some((l) => l.includes('upstream lock held too long')),
      'the cancelled holder is logged',
    );
  });
});
