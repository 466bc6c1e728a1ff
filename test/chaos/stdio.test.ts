import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { upstreamsReady } from '../support/lookout.ts';
import { chaos, eventually, Scenario, sleep, toolNames, upstreamState, waitForState } from './harness.ts';

/** Quick supervision, so that a scenario sees restarts and holds within seconds. */
const quickRestart = { initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.2 };

describe('chaos: stdio upstreams', () => {
  // Loads every module and warms the JIT, so that the first scenario's heap figure is not the loading.
  before(async () => {
    const s = new Scenario();
    const lookout = await s.lookout({ upstreams: [s.stdioUpstream('warm')] });
    await upstreamsReady(lookout);
    const client = await s.client(lookout.url);
    await s.calls.call(client, 'warm__echo', { text: 'hi' }, 5000);
    await s.close();
  });

  it('100 concurrent first calls to a cold upstream', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [s.stdioUpstream('cold', { CHAOS_START_DELAY_MS: '1500' })],
      });
      const clients = await Promise.all(Array.from({ length: 10 }, () => s.client(lookout.url)));
      // The first 100 come while it is starting: not listed yet, so a named error, never a hang.
      const early = clients.flatMap((c) =>
        Array.from({ length: 10 }, () => s.calls.call(c, 'cold__echo', { text: 'early' }, 5000)),
      );
      await Promise.all(early);
      await upstreamsReady(lookout, 15_000);
      // Then 100 at once on the just-started child: bulkhead 32 + queue 64, the rest busy (-32002).
      const first = clients.flatMap((c) =>
        Array.from({ length: 10 }, () => s.calls.call(c, 'cold__sleep', { ms: 300 }, 10_000)),
      );
      await Promise.all(first);
      s.figures.early = 100;
      assert.ok(s.calls.count('ok') >= 96, JSON.stringify(s.calls.tally()));
    });
  });

  it('crash mid-call: calls in flight fail at once with -32010, the child is restarted', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [s.stdioUpstream('crashy', {}, { restart: quickRestart })],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      const inFlight = Array.from({ length: 10 }, () => s.calls.call(client, 'crashy__sleep', { ms: 20_000 }, 5000));
      await sleep(200);
      const started = Date.now();
      await s.calls.call(client, 'crashy__crash', {}, 5000);
      await Promise.all(inFlight);
      s.figures.failedAfterMs = Date.now() - started;
      assert.equal(s.calls.count('-32010'), 11, JSON.stringify(s.calls.tally()));
      await waitForState(lookout, 'crashy', 'ready', 10_000);
      assert.equal(await s.calls.call(client, 'crashy__echo', { text: 'back' }, 5000), 'ok');
      assert.equal(s.upstreamPids().length, 2, 'one restart');
    });
  });

  it('crash loop: held after maxRestarts, calls fail fast, children do not pile up', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [
          s.stdioUpstream(
            'loop',
            { CHAOS_EXIT_AT_START: '1' },
            { restart: { ...quickRestart, maxRestarts: 3, windowSeconds: 60, holdSeconds: 30 } },
          ),
        ],
      });
      await waitForState(lookout, 'loop', 'holding', 10_000);
      const client = await s.client(lookout.url);
      // Its tools were never listed: calls get a named error at once.
      for (let i = 0; i < 20; i++) await s.calls.call(client, 'loop__echo', { text: 'x' }, 2000);
      await sleep(500);
      s.figures.starts = s.upstreamPids().length;
      assert.equal(s.upstreamPids().length, 4, 'the first start and maxRestarts restarts, then held');
      assert.equal(upstreamState(lookout, 'loop'), 'holding');
    });
  });

  it('hung upstream (alive, silent): calls time out (-32011), tools hidden, child restarted', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [
          s.stdioUpstream('hung', {}, {
            timeouts: { requestSeconds: 1 },
            health: { intervalSeconds: 0.2, timeoutSeconds: 0.2, graceSeconds: 0.8 },
            restart: quickRestart,
          }),
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      await s.calls.call(client, 'hung__silence', { ms: 60_000 }, 3000);
      const stuck = Array.from({ length: 5 }, () => s.calls.call(client, 'hung__echo', { text: 'x' }, 3000));
      const hidden = await eventually(() => s.upstreamPids().length === 2, 10_000);
      assert.ok(hidden, 'a second child was started');
      await Promise.all(stuck);
      await waitForState(lookout, 'hung', 'ready', 10_000);
      assert.ok((await toolNames(client)).includes('hung__echo'), 'tools back');
      assert.equal(await s.calls.call(client, 'hung__echo', { text: 'back' }, 3000), 'ok');
      assert.equal(s.calls.count('-32011') + s.calls.count('-32010'), 5, JSON.stringify(s.calls.tally()));
    });
  });
});
