import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { mcpHeaders, openSession, upstreamsReady } from '../support/lookout.ts';
import {
  chaos,
  eventually,
  fdCount,
  processAlive,
  Scenario,
  sleep,
  toolNames,
  upstreamState,
  waitForState,
} from './harness.ts';

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

  for (const isolation of ['subject', 'shared'] as const) {
    // Isolated (the default): the session's own child crashes and the next call starts another (the
    // upstream still answers on its catalog connection: the breaker the failed calls opened is closed).
    // Shared: the catalog connection is lost and restarted.
    it(`crash mid-call (${isolation}): calls in flight fail at once with -32010, the next call is answered`, async (t) => {
      await chaos(t, async (s) => {
        const lookout = await s.lookout({
          upstreams: [s.stdioUpstream('crashy', {}, { restart: quickRestart, isolation })],
        });
        await upstreamsReady(lookout);
        const client = await s.client(lookout.url);
        const inFlight = Array.from({ length: 10 }, () =>
          s.calls.call(client, 'crashy__sleep', { ms: 20_000 }, 5000),
        );
        await sleep(isolation === 'shared' ? 200 : 1000);
        const started = Date.now();
        await s.calls.call(client, 'crashy__crash', {}, 5000);
        await Promise.all(inFlight);
        s.figures.failedAfterMs = Date.now() - started;
        assert.equal(s.calls.count('-32010'), 11, JSON.stringify(s.calls.tally()));
        await waitForState(lookout, 'crashy', 'ready', 10_000);
        assert.equal(await s.calls.call(client, 'crashy__echo', { text: 'back' }, 5000), 'ok');
        // Shared: the first child and its restart. Isolated: the catalog's, the session's, its successor.
        assert.equal(s.upstreamPids().length, isolation === 'shared' ? 2 : 3, 'one child replaced');
        if (isolation !== 'shared') {
          assert.equal(upstreamState(lookout, 'crashy'), 'ready', 'the catalog connection never lost');
          assert.ok(!lookout.logLines.some((l) => l.includes('upstream connection lost')), 'catalog kept');
          assert.ok(
            lookout.logLines.some((l) => l.includes('upstream isolated connection lost')),
            'logged',
          );
        }
      });
    });
  }

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

  it('hung upstream (shared, alive, silent): calls time out (-32011), tools hidden, child restarted', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [
          s.stdioUpstream(
            'hung',
            {},
            {
              isolation: 'shared',
              timeouts: { requestSeconds: 1 },
              health: { intervalSeconds: 0.2, timeoutSeconds: 0.2, graceSeconds: 0.8 },
              restart: quickRestart,
            },
          ),
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

  it("hung isolated connection (alive, silent): closed after the grace, the session's next call gets a new child, the others never notice", async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [
          s.stdioUpstream(
            'hung',
            {},
            {
              timeouts: { requestSeconds: 1 },
              health: { intervalSeconds: 0.2, timeoutSeconds: 0.2, graceSeconds: 0.8 },
              // The calls that time out on the hung connection do not open the breaker for the others.
              breaker: { consecutiveFailures: 100 },
            },
          ),
        ],
      });
      await upstreamsReady(lookout);
      const [client, other] = [await s.client(lookout.url), await s.client(lookout.url)];
      assert.equal(await s.calls.call(other, 'hung__echo', { text: 'other' }, 3000), 'ok');
      assert.equal(await s.calls.call(client, 'hung__echo', { text: 'first' }, 3000), 'ok');
      const [, , hungPid] = s.upstreamPids();
      assert.equal(await s.calls.call(client, 'hung__silence', { ms: 60_000 }, 3000), 'ok');
      const stuck = Array.from({ length: 5 }, () => s.calls.call(client, 'hung__echo', { text: 'x' }, 3000));
      const closed = await eventually(
        () => lookout.logLines.some((l) => l.includes('upstream isolated connection unresponsive')),
        5000,
      );
      assert.ok(closed, 'the silent connection was found hung and closed');
      await Promise.all(stuck);
      assert.equal(s.calls.count('-32011') + s.calls.count('-32010'), 5, JSON.stringify(s.calls.tally()));
      // Its child is stopped (stdin closed, SIGTERM): it does not outlive its connection.
      const gone = await eventually(() => !processAlive(hungPid as number), 6000);
      assert.ok(gone, `the hung child ${hungPid} was stopped`);
      assert.equal(upstreamState(lookout, 'hung'), 'ready', 'the catalog connection was never hung');
      assert.ok((await toolNames(client)).includes('hung__echo'), 'tools never hidden');
      assert.equal(await s.calls.call(client, 'hung__echo', { text: 'back' }, 3000), 'ok');
      assert.equal(await s.calls.call(other, 'hung__echo', { text: 'other' }, 3000), 'ok');
      assert.equal(
        s.upstreamPids().length,
        4,
        "the catalog's, the other session's, the hung one, its successor",
      );
    });
  });

  it('idle isolated connections close after connections.idleSeconds, and the next call opens another', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [s.stdioUpstream('idle', {}, { connections: { max: 4, idleSeconds: 1 } })],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      assert.equal(await s.calls.call(client, 'idle__echo', { text: 'x' }, 3000), 'ok');
      const [, isolatedPid] = s.upstreamPids();
      const gone = await eventually(() => !processAlive(isolatedPid as number), 5000);
      assert.ok(gone, 'the idle child was stopped');
      assert.equal(await s.calls.call(client, 'idle__echo', { text: 'again' }, 3000), 'ok');
      assert.equal(s.upstreamPids().length, 3, 'a new child for the next call');
    });
  });

  it('slow upstream: calls within the request timeout answer, longer ones get -32011, extra ones -32002', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [
          s.stdioUpstream(
            'slow',
            {},
            { timeouts: { requestSeconds: 1 }, concurrency: { limit: 4, queue: 4 } },
          ),
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      const calls = [
        ...Array.from({ length: 4 }, () => s.calls.call(client, 'slow__sleep', { ms: 3000 }, 2500)),
        ...Array.from({ length: 4 }, () => s.calls.call(client, 'slow__sleep', { ms: 100 }, 4000)),
        ...Array.from({ length: 4 }, () => s.calls.call(client, 'slow__sleep', { ms: 100 }, 2500)),
      ];
      await Promise.all(calls);
      assert.equal(s.calls.count('-32011'), 4, JSON.stringify(s.calls.tally()));
      assert.equal(s.calls.count('-32002'), 4, JSON.stringify(s.calls.tally()));
      assert.equal(s.calls.count('ok'), 4, JSON.stringify(s.calls.tally()));
    });
  });

  it("garbage on the child's stdout: skipped and logged, every call still answered", async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({ upstreams: [s.stdioUpstream('noisy', { CHAOS_GARBAGE: '1' })] });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => s.calls.call(client, 'noisy__echo', { text: `n${i}` }, 5000)),
      );
      assert.equal(s.calls.count('ok'), 50, JSON.stringify(s.calls.tally()));
      assert.equal(upstreamState(lookout, 'noisy'), 'ready');
      s.figures.transportErrorsLogged = lookout.logLines.filter((l) =>
        l.includes('upstream transport error'),
      ).length;
    });
  });

  it('oversized results over stdio: -32013 for that call only, the upstream stays up', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [s.stdioUpstream('huge', {}, { maxResultBytes: 1_000_000 })],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      for (let i = 0; i < 5; i++) {
        await Promise.all([
          s.calls.call(client, 'huge__big', { bytes: 12_000_000 }, 10_000),
          s.calls.call(client, 'huge__big', { bytes: 500_000 }, 10_000),
          s.calls.call(client, 'huge__echo', { text: 'small' }, 10_000),
        ]);
      }
      assert.deepEqual(s.calls.tally(), { '-32013': 5, ok: 10 });
      // The catalog's child and the session's: neither restarted.
      assert.equal(s.upstreamPids().length, 2, 'never restarted');
    });
  });

  it('many upstreams failing and recovering in waves', async (t) => {
    await chaos(t, async (s) => {
      const names = Array.from({ length: 8 }, (_, i) => `w${i}`);
      const lookout = await s.lookout({
        upstreams: names.map((n) =>
          s.stdioUpstream(n, {}, { restart: { ...quickRestart, maxRestarts: 20 } }),
        ),
      });
      await upstreamsReady(lookout, 20_000);
      const client = await s.client(lookout.url);
      const fdsPerWave: number[] = [];
      for (let wave = 0; wave < 4; wave++) {
        const failing = names.filter((_, i) => i % 2 === wave % 2);
        await Promise.all(failing.map((n) => s.calls.call(client, `${n}__crash`, {}, 5000)));
        // During the wave: every upstream is called; the failing ones answer -32010 or, back already, ok.
        await Promise.all(names.map((n) => s.calls.call(client, `${n}__echo`, { text: 'w' }, 5000)));
        await upstreamsReady(lookout, 15_000);
        await Promise.all(names.map((n) => s.calls.call(client, `${n}__echo`, { text: 'after' }, 5000)));
        fdsPerWave.push(fdCount());
      }
      s.figures.fdsPerWave = fdsPerWave;
      s.figures.children = s.upstreamPids().length;
      // Each upstream's catalog child and the session's first, then one new child per crash.
      assert.equal(s.upstreamPids().length, 8 + 8 + 16, 'each crash replaced once');
      // Room for the test client's keep-alive connections to Lookout (both ends are in this process),
      // well below the pipes of the children each wave replaces, were they kept.
      assert.ok(
        (fdsPerWave[3] as number) <= (fdsPerWave[0] as number) + 8,
        `fds do not grow wave by wave: ${fdsPerWave.join()}`,
      );
      // After each wave's recovery, every upstream answers.
      const after = s.calls.outcomes.filter((_, i) => i % 20 >= 12);
      assert.ok(
        after.every((o) => o === 'ok'),
        JSON.stringify(s.calls.tally()),
      );
    });
  });

  it('a child that ignores SIGTERM is killed on shutdown (stdin closed, SIGTERM, SIGKILL)', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [s.stdioUpstream('stubborn', { CHAOS_IGNORE_SIGTERM: '1' })],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      assert.equal(await s.calls.call(client, 'stubborn__echo', { text: 'x' }, 3000), 'ok');
      const started = Date.now();
      await client.close();
      await lookout.close();
      s.figures.closeMs = Date.now() - started;
      assert.ok(Date.now() - started < 8000, 'closed within the stop steps');
    });
  });

  it('a child that closes its stdout but stays alive: stopped and replaced at once, no health probe needed', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [
          s.stdioUpstream(
            'mute2',
            {},
            {
              timeouts: { requestSeconds: 1 },
              health: { intervalSeconds: 0 },
              restart: quickRestart,
            },
          ),
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      await s.calls.call(client, 'mute2__close_stdout', {}, 3000);
      await Promise.all(
        Array.from({ length: 5 }, () => s.calls.call(client, 'mute2__echo', { text: 'x' }, 3000)),
      );
      // Nothing can come from it any more: the session's connection is lost, its child stopped.
      const [, mutePid] = s.upstreamPids();
      const stopped = await eventually(() => !processAlive(mutePid as number), 5000);
      assert.ok(stopped, 'stopped without a health probe');
      assert.equal(await s.calls.call(client, 'mute2__echo', { text: 'back' }, 3000), 'ok');
      assert.equal(s.upstreamPids().length, 3, 'the next call got a new child');
    });
  });

  it('an answer that is no valid JSON-RPC: logged, that call ends at its timeout (-32011)', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [s.stdioUpstream('liar', {}, { timeouts: { requestSeconds: 1 } })],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      await Promise.all([
        ...Array.from({ length: 5 }, () => s.calls.call(client, 'liar__invalid', {}, 3000)),
        ...Array.from({ length: 5 }, () => s.calls.call(client, 'liar__echo', { text: 'x' }, 3000)),
      ]);
      assert.deepEqual(s.calls.tally(), { ok: 5, '-32011': 5 });
      assert.equal(upstreamState(lookout, 'liar'), 'ready');
    });
  });

  it('a storm of list_changed notifications: a few list reads, not one per notification; calls answered', async (t) => {
    await chaos(t, async (s) => {
      // About the catalog connection's list refresh: shared, so that `stats` is that child's count.
      const lookout = await s.lookout({
        upstreams: [s.stdioUpstream('stormy', {}, { isolation: 'shared' })],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      await Promise.all([
        s.calls.call(client, 'stormy__storm', { n: 500 }, 10_000),
        ...Array.from({ length: 20 }, () => s.calls.call(client, 'stormy__echo', { text: 'x' }, 10_000)),
      ]);
      await sleep(500);
      assert.equal(s.calls.count('ok'), 21, JSON.stringify(s.calls.tally()));
      assert.ok((await toolNames(client)).includes('stormy__echo'));
      assert.equal(await s.calls.call(client, 'stormy__echo', { text: 'after' }, 5000), 'ok');
      const stats = await client.callTool({ name: 'stormy__stats', arguments: {} });
      const listed = JSON.parse((stats.content as { text: string }[])[0]?.text ?? '{}').listed as number;
      s.figures.toolsListsAfterStorm = listed;
      // The first read, then one read for the storm (two if a notification came during it): not 500.
      assert.ok(listed <= 4, `the storm cost ${listed} tools/list reads`);
    });
  });

  for (const isolation of ['subject', 'shared'] as const) {
    it(`cancellation reaches the upstream (${isolation}): a client that disconnects or cancels mid-call, a call past its deadline`, async (t) => {
      await chaos(t, async (s) => {
        const lookout = await s.lookout({
          log: { level: 'info', format: 'json' },
          admission: { toolTimeouts: { cancel__sleep: 1 } },
          upstreams: [s.stdioUpstream('cancel', {}, { isolation })],
        });
        await upstreamsReady(lookout);
        const session = await openSession(lookout.url);
        const cancelled = () => lookout.logLines.filter((l) => l.includes('chaos: cancelled')).length;
        const post = (id: number, name: string, args: Record<string, unknown>, signal?: AbortSignal) =>
          fetch(lookout.url, {
            method: 'POST',
            headers: { ...mcpHeaders, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
            body: JSON.stringify({
              jsonrpc: '2.0',
              id,
              method: 'tools/call',
              params: { name, arguments: args },
            }),
            ...(signal && { signal }),
          }).then(async (res) => res.text());
        // Isolated, each session's first call starts its child: a call cancelled before that child
        // answered was never sent, and has nothing to cancel upstream. Counted from there.
        await post(100, 'cancel__echo', { text: 'open' });
        for (let i = 0; i < 10; i++) {
          const controller = new AbortController();
          const request = post(i + 1, 'cancel__sleep', { ms: 30_000 }, controller.signal);
          await sleep(150);
          controller.abort();
          await request.catch(() => undefined);
        }
        // A client that cancels (notifications/cancelled) is no failure of the upstream either.
        const client = await s.client(lookout.url);
        assert.equal(await s.calls.call(client, 'cancel__echo', { text: 'open' }, 5000), 'ok');
        for (let i = 0; i < 10; i++) {
          const controller = new AbortController();
          const call = client.callTool({ name: 'cancel__sleep', arguments: { ms: 30_000 } }, undefined, {
            signal: controller.signal,
          });
          await sleep(150);
          controller.abort();
          await call.catch(() => undefined);
        }
        assert.ok(await eventually(() => cancelled() === 20, 5000), `upstream saw ${cancelled()} of 20`);
        assert.ok(
          !lookout.logLines.some((l) => l.includes('upstream circuit breaker')),
          'cancellations do not open the breaker',
        );
        // Past the tool's deadline (admission.toolTimeouts), Lookout cancels the call upstream itself
        // (a timeout, which the breaker counts: fewer than its threshold here).
        const late = await Promise.all(
          Array.from({ length: 3 }, () => s.calls.call(client, 'cancel__sleep', { ms: 30_000 }, 5000)),
        );
        assert.deepEqual(late, ['-32012', '-32012', '-32012']);
        const seen = await eventually(() => cancelled() === 23, 5000);
        s.figures.cancellationsSeen = cancelled();
        assert.ok(seen, `upstream saw ${cancelled()} of 23 cancellations`);
        assert.equal(await s.calls.call(client, 'cancel__echo', { text: 'x' }, 3000), 'ok');
      });
    });
  }

  it('drain while calls are in flight to a slow upstream: they finish, then everything stops', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        log: { level: 'info', format: 'json' },
        upstreams: [s.stdioUpstream('draining')],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      // The session's own child, started by its first call, is up before the calls that drain.
      assert.equal(await s.calls.call(client, 'draining__echo', { text: 'open' }, 5000), 'ok');
      const inFlight = Array.from({ length: 10 }, () =>
        s.calls.call(client, 'draining__sleep', { ms: 1500 }, 5000),
      );
      // Closed once the upstream has all 10 (it logs each on its stderr).
      const sleeping = () => lookout.logLines.filter((l) => l.includes('chaos: sleeping')).length;
      assert.ok(await eventually(() => sleeping() === 10, 3000), `${sleeping()} of 10 calls in flight`);
      const started = Date.now();
      await lookout.close();
      s.figures.drainMs = Date.now() - started;
      await Promise.all(inFlight);
      assert.equal(s.calls.count('ok'), 11, JSON.stringify(s.calls.tally()));
    });
  });

  it('breaker: open after consecutive timeouts, half-open after its pause, closed by a success', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [
          s.stdioUpstream(
            'brk',
            {},
            {
              timeouts: { requestSeconds: 0.3 },
              breaker: { consecutiveFailures: 3, halfOpenAfterSeconds: 0.5 },
              retry: { attempts: 0 },
            },
          ),
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      for (let cycle = 0; cycle < 3; cycle++) {
        for (let i = 0; i < 3; i++) assert.equal(await s.calls.call(client, 'brk__hang', {}, 2000), '-32011');
        const started = Date.now();
        assert.equal(await s.calls.call(client, 'brk__echo', { text: 'x' }, 2000), '-32010', 'open');
        assert.ok(Date.now() - started < 200, 'an open breaker fails at once');
        await sleep(600);
        assert.equal(
          await s.calls.call(client, 'brk__echo', { text: 'x' }, 2000),
          'ok',
          'half-open lets one through',
        );
        assert.equal(await s.calls.call(client, 'brk__echo', { text: 'x' }, 2000), 'ok', 'closed again');
      }
    });
  });

  it("Lookout's secrets are not in a child's environment", async (t) => {
    await chaos(t, async (s) => {
      const environment = {
        PATH: process.env.PATH,
        LOOKOUT_AUTH_JWT_SECRET: 'chaos-secret-1',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=chaos-secret-2',
        HTTPS_PROXY: 'http://127.0.0.1:9',
      };
      const lookout = await s.lookout({ upstreams: [s.stdioUpstream('envy')] }, { environment });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      const result = await client.callTool({
        name: 'envy__report_env',
        arguments: { names: Object.keys(environment) },
      });
      const seen = JSON.parse((result.content as { text: string }[])[0]?.text ?? '{}') as Record<
        string,
        string
      >;
      assert.equal(seen.HTTPS_PROXY, 'http://127.0.0.1:9');
      assert.equal(seen.LOOKOUT_AUTH_JWT_SECRET, undefined);
      assert.equal(seen.OTEL_EXPORTER_OTLP_HEADERS, undefined);
      const [pid] = s.upstreamPids();
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      assert.ok(!environ.includes('chaos-secret'), 'no secret in /proc/<child>/environ');
    });
  });

  it('a command that does not exist: retried with backoff, calls fail fast, no fd piles up', async (t) => {
    await chaos(t, async (s) => {
      const lookout = await s.lookout({
        upstreams: [
          {
            name: 'ghost',
            transport: 'stdio',
            command: '/nonexistent/chaos-upstream',
            restart: { ...quickRestart, maxRestarts: 100 },
          },
        ],
      });
      const client = await s.client(lookout.url);
      await sleep(300);
      const fdsEarly = fdCount();
      for (let i = 0; i < 20; i++) {
        await s.calls.call(client, 'ghost__echo', { text: 'x' }, 2000);
        await sleep(50);
      }
      const fdsLate = fdCount();
      s.figures.fdsWhileRetrying = `${fdsEarly} -> ${fdsLate}`;
      assert.ok(fdsLate <= fdsEarly + 4, `fds while retrying: ${fdsEarly} -> ${fdsLate}`);
      assert.notEqual(upstreamState(lookout, 'ghost'), 'ready');
    });
  });
});
