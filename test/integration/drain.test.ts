import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectClient, connectModernClient, rpc, startTestLookout } from '../support/lookout.ts';
import { spawnLookout } from '../support/process.ts';

const fixtures = fileURLToPath(new URL('../fixtures/slow-tools.ts', import.meta.url));

it('SIGTERM drains: in-flight calls and SSE streams finish, new calls get 503, exit 0 in time', {
  timeout: 60_000,
}, async () => {
  const drainTimeout = 15;
  const lookout = await spawnLookout(['--tools', fixtures, '--drain-timeout', String(drainTimeout)], {
    OTEL_SDK_DISABLED: 'true',
  });
  const client = await connectClient(lookout.url);
  const slowCalls = Array.from({ length: 8 }, () =>
    client.callTool({ name: 'wait', arguments: { ms: 1500 } }),
  );
  const progress: number[] = [];
  const streamed = client.callTool({ name: 'slow_progress', arguments: { steps: 12 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  // Let every handler start, and the progress stream begin, before the signal.
  while (progress.length < 2) await new Promise((r) => setTimeout(r, 20));

  const signalledAt = Date.now();
  lookout.child.kill('SIGTERM');
  let ready = await fetch(new URL('/health/ready', lookout.url));
  for (let i = 0; i < 50 && ready.status === 200; i++) {
    await new Promise((r) => setTimeout(r, 10));
    ready = await fetch(new URL('/health/ready', lookout.url));
  }
  assert.equal(ready.status, 503, 'readiness fails as soon as the drain starts');
  assert.equal(((await ready.json()) as { phase: string }).phase, 'draining');

  const refused = await rpc(lookout.url, { jsonrpc: '2.0', id: 1, method: 'ping' });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  assert.equal((refused.body as { error: { code: number } }).error.code, -32003);

  const results = await Promise.all(slowCalls);
  for (const result of results) assert.deepEqual(result.content, [{ type: 'text', text: 'waited 1500 ms' }]);
  const streamedResult = await streamed;
  assert.deepEqual(streamedResult.content, [{ type: 'text', text: 'done after 12 steps' }]);
  assert.deepEqual(
    progress,
    Array.from({ length: 12 }, (_, i) => i + 1),
    'every progress event arrived',
  );

  const code = await lookout.exited;
  const seconds = (Date.now() - signalledAt) / 1000;
  assert.equal(code, 0, lookout.stderr.join(''));
  assert.ok(seconds < drainTimeout, `exited after ${seconds}s`);
  const lines = lookout.lines.map((l) => JSON.parse(l) as { message: string });
  assert.ok(lines.some((l) => l.message === 'draining'));
  assert.equal(lines.at(-1)?.message, 'stopped');
});

it('a 2026-07-28 listen stream does not hold the drain: it is ended gracefully, and the stop is quick', {
  timeout: 30_000,
}, async () => {
  const lookout = await startTestLookout();
  const client = await connectModernClient(lookout.url, 'listener');
  try {
    const listening = await client.listen({ toolsListChanged: true });
    const startedAt = Date.now();
    await lookout.close();
    assert.ok(Date.now() - startedAt < 5_000, `stopped in ${Date.now() - startedAt} ms`);
    assert.equal(
      await listening.closed,
      'graceful',
      'the server ended the listen stream with its empty result, not by dropping it',
    );
  } finally {
    await client.close();
  }
});
