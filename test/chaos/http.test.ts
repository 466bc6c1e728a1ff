import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { before, describe, it } from 'node:test';
import { freePort } from '../../support/ports.ts';
import { upstreamsReady } from '../support/lookout.ts';
import {
  chaos,
  eventually,
  fdCount,
  Scenario,
  sleep,
  toolNames,
  upstreamState,
  waitForState,
} from './harness.ts';
import { TcpProxy } from './tcp-proxy.ts';

const quickReconnect = { initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.3 };

/**
 * An HTTP upstream behind a proxy the scenario controls: server-everything, which keeps a session per
 * client, or the SDK fixture (one session per process, but tools that misbehave on request).
 */
async function proxiedUpstream(s: Scenario, everything = false): Promise<TcpProxy> {
  const port = await freePort();
  await (everything ? s.everythingHttp(port) : s.httpUpstream(port));
  const proxy = new TcpProxy(port);
  await proxy.listen();
  s.onCleanup(() => proxy.close());
  return proxy;
}

/**
 * A hand-written Streamable HTTP upstream that answers initialize, lists and pings, and answers its
 * `drip_*` tools with a response that starts and never ends (slowloris-style): an event stream cut
 * mid-message, or a JSON body shorter than its Content-Length.
 */
async function drippingUpstream(s: Scenario): Promise<{ port: number; open: () => number }> {
  const dripping = new Set<ServerResponse>();
  const server = createServer(async (req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    const message = JSON.parse(body) as { id?: number; method: string; params?: Record<string, unknown> };
    if (message.id === undefined) {
      res.writeHead(202).end();
      return;
    }
    const json = (result: unknown) =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'drip-session' })
        .end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
    const tool = (name: string) => ({ name, inputSchema: { type: 'object' } });
    if (message.method === 'initialize')
      return json({
        protocolVersion: message.params?.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: 'drip', version: '1' },
      });
    if (message.method === 'tools/list')
      return json({ tools: [tool('drip_sse'), tool('drip_json'), tool('fine')] });
    if (message.method === 'ping') return json({});
    // A 2025 server: the era probe gets the answer a 2025 SDK server gives, only its tools drip.
    if (message.method === 'server/discover')
      return res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: -32601, message: 'Method not found' },
        }),
      );
    const name = message.params?.name;
    if (name === 'fine') return json({ content: [{ type: 'text', text: 'fine' }] });
    dripping.add(res);
    res.on('close', () => dripping.delete(res));
    if (name === 'drip_sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: {"jsonrpc":"2.0","id":${message.id},`);
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '10000' });
      res.write(`{"jsonrpc":"2.0","id":${message.id},`);
    }
    const drip = setInterval(() => res.write(' '), 100);
    res.on('close', () => clearInterval(drip));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  s.onCleanup(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as { port: number }).port, open: () => dripping.size };
}

describe('chaos: HTTP upstreams', () => {
  before(async () => {
    const s = new Scenario();
    const proxy = await proxiedUpstream(s);
    const lookout = await s.lookout({
      upstreams: [{ name: 'warm', transport: 'http', url: `http://127.0.0.1:${proxy.port}/mcp` }],
    });
    await upstreamsReady(lookout);
    const client = await s.client(lookout.url);
    await s.calls.call(client, 'warm__slow', { ms: 1 }, 5000);
    await s.close();
  });

  it('an HTTP upstream behind a proxy that cuts connections', async (t) => {
    await chaos(t, async (s) => {
      const proxy = await proxiedUpstream(s, true);
      const lookout = await s.lookout({
        upstreams: [
          {
            name: 'cut',
            transport: 'http',
            url: `http://127.0.0.1:${proxy.port}/mcp`,
            timeouts: { requestSeconds: 2, connectSeconds: 2 },
            restart: quickReconnect,
          },
        ],
      });
      await upstreamsReady(lookout);
      const clients = await Promise.all([s.client(lookout.url), s.client(lookout.url)]);
      const stop = Date.now() + 3000;
      const cutter = setInterval(() => proxy.cut(), 250);
      await Promise.all(
        clients.map(async (client) => {
          while (Date.now() < stop)
            await s.calls.call(
              client,
              'cut__trigger-long-running-operation',
              { duration: 0.1, steps: 1 },
              6000,
            );
        }),
      );
      clearInterval(cutter);
      s.figures.connectionsCut = proxy.cuts;
      await waitForState(lookout, 'cut', 'ready', 10_000);
      const after = await Promise.all(
        Array.from({ length: 10 }, () =>
          s.calls.call(clients[0] as never, 'cut__echo', { message: 'x' }, 6000),
        ),
      );
      assert.deepEqual(after, Array(10).fill('ok'), 'all answer once the cutting stops');
      assert.ok(proxy.cuts > 0);
    });
  });

  it('rapid drop/restore cycles of an HTTP upstream', async (t) => {
    await chaos(t, async (s) => {
      const proxy = await proxiedUpstream(s, true);
      const lookout = await s.lookout({
        upstreams: [
          {
            name: 'flap',
            transport: 'http',
            url: `http://127.0.0.1:${proxy.port}/mcp`,
            timeouts: { requestSeconds: 2, connectSeconds: 2 },
            restart: quickReconnect,
          },
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      // The first call opens this session's own upstream connection (isolation): counted from there.
      assert.equal(await s.calls.call(client, 'flap__echo', { message: 'first' }, 5000), 'ok');
      const fdsAtStart = fdCount();
      let running = true;
      const caller = (async () => {
        while (running) {
          await s.calls.call(client, 'flap__echo', { message: 'flap' }, 6000);
          await sleep(20);
        }
      })();
      try {
        for (let cycle = 0; cycle < 20; cycle++) {
          await proxy.drop();
          await sleep(100);
          await proxy.listen();
          await sleep(100);
        }
        await waitForState(lookout, 'flap', 'ready', 10_000);
      } finally {
        running = false;
        await caller;
      }
      assert.equal(await s.calls.call(client, 'flap__echo', { message: 'back' }, 5000), 'ok');
      await sleep(300);
      s.figures.fdsDuring = `${fdsAtStart} -> ${fdCount()}`;
      assert.ok(fdCount() <= fdsAtStart + 4, `fds ${fdsAtStart} -> ${fdCount()} after 20 cycles`);
      assert.notEqual(upstreamState(lookout, 'flap'), 'holding', 'no crash-loop hold for HTTP');
    });
  });

  it('an HTTP upstream that restarts (new process, its sessions gone) is reconnected', async (t) => {
    await chaos(t, async (s) => {
      const port = await freePort();
      let upstream = await s.httpUpstream(port);
      const lookout = await s.lookout({
        upstreams: [
          {
            name: 'reborn',
            transport: 'http',
            url: `http://127.0.0.1:${port}/mcp`,
            timeouts: { requestSeconds: 2, connectSeconds: 2 },
            restart: quickReconnect,
          },
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      for (let round = 0; round < 2; round++) {
        const inFlight = s.calls.call(client, 'reborn__slow', { ms: 5000 }, 6000);
        await sleep(200);
        upstream.kill('SIGKILL');
        await inFlight;
        await s.calls.call(client, 'reborn__slow', { ms: 1 }, 5000);
        upstream = await s.httpUpstream(port);
        await eventually(() => upstreamState(lookout, 'reborn') === 'ready', 10_000);
        // The old session is gone: the first call may find out (404) and the next one gets a new session.
        await s.calls.call(client, 'reborn__slow', { ms: 1 }, 5000);
        await waitForState(lookout, 'reborn', 'ready', 10_000);
        assert.equal(await s.calls.call(client, 'reborn__slow', { ms: 1 }, 5000), 'ok');
      }
    });
  });

  it('oversized results over HTTP (event stream and JSON): -32013 for that call only', async (t) => {
    await chaos(t, async (s) => {
      const proxy = await proxiedUpstream(s);
      const jsonPort = await freePort();
      await s.httpUpstream(jsonPort, true);
      const lookout = await s.lookout({
        upstreams: [
          {
            name: 'bigsse',
            transport: 'http',
            url: `http://127.0.0.1:${proxy.port}/mcp`,
            maxResultBytes: 1_000_000,
          },
          {
            name: 'bigjson',
            transport: 'http',
            url: `http://127.0.0.1:${jsonPort}/mcp`,
            maxResultBytes: 1_000_000,
          },
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      for (const name of ['bigsse', 'bigjson']) {
        for (let i = 0; i < 3; i++) {
          await Promise.all([
            s.calls.call(client, `${name}__big`, { bytes: 5_000_000 }, 10_000),
            s.calls.call(client, `${name}__big`, { bytes: 100_000 }, 10_000),
          ]);
        }
        assert.equal(upstreamState(lookout, name), 'ready');
      }
      assert.deepEqual(s.calls.tally(), { '-32013': 6, ok: 6 });
    });
  });

  it('slowloris-style answers (a response that starts and never ends) end at the request timeout', async (t) => {
    await chaos(t, async (s) => {
      const drip = await drippingUpstream(s);
      const lookout = await s.lookout({
        upstreams: [
          {
            name: 'drip',
            transport: 'http',
            url: `http://127.0.0.1:${drip.port}/mcp`,
            timeouts: { requestSeconds: 1 },
            retry: { attempts: 0 },
            breaker: { consecutiveFailures: 100 },
          },
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      await Promise.all([
        ...Array.from({ length: 5 }, () => s.calls.call(client, 'drip__drip_sse', {}, 3000)),
        ...Array.from({ length: 5 }, () => s.calls.call(client, 'drip__drip_json', {}, 3000)),
        ...Array.from({ length: 5 }, () => s.calls.call(client, 'drip__fine', {}, 3000)),
      ]);
      assert.deepEqual(s.calls.tally(), { ok: 5, '-32011': 10 });
      // Lookout gave up on those responses: their connections are closed, not left dripping.
      const closed = await eventually(() => drip.open() === 0, 3000);
      s.figures.drippingLeft = drip.open();
      assert.ok(closed, `${drip.open()} dripping responses still open after their calls timed out`);
    });
  });

  it('a hung HTTP upstream (alive, silent) is marked down, its tools hidden, and back when it answers', async (t) => {
    await chaos(t, async (s) => {
      const proxy = await proxiedUpstream(s);
      const lookout = await s.lookout({
        upstreams: [
          {
            name: 'mute',
            transport: 'http',
            url: `http://127.0.0.1:${proxy.port}/mcp`,
            timeouts: { requestSeconds: 1 },
            health: { intervalSeconds: 0.2, timeoutSeconds: 0.2, graceSeconds: 0.8 },
            restart: quickReconnect,
          },
        ],
      });
      await upstreamsReady(lookout);
      const client = await s.client(lookout.url);
      assert.equal(await s.calls.call(client, 'mute__go_silent', { ms: 2500 }, 3000), 'ok');
      await sleep(100);
      const stuck = Array.from({ length: 5 }, () => s.calls.call(client, 'mute__slow', { ms: 1 }, 3000));
      await waitForState(lookout, 'mute', 'down', 5000);
      assert.ok(!(await toolNames(client)).includes('mute__slow'), 'tools hidden while hung');
      // The session's own upstream session, silent as well, is closed; its next call opens another.
      const isolatedClosed = await eventually(
        () => lookout.logLines.some((l) => l.includes('upstream isolated connection unresponsive')),
        3000,
      );
      assert.ok(isolatedClosed, "the session's hung connection was closed");
      await Promise.all(stuck);
      await waitForState(lookout, 'mute', 'ready', 10_000);
      // Its lists are read again as it answers: they come back a moment after its state.
      let back = false;
      for (let i = 0; i < 50 && !back; i++) {
        back = (await toolNames(client)).includes('mute__slow');
        if (!back) await sleep(100);
      }
      assert.ok(back, 'tools back');
      // Served again means callable again: the calls that timed out while it was hung opened its
      // breaker, which its first answer closes (as a new session does).
      assert.equal(
        await s.calls.call(client, 'mute__slow', { ms: 1 }, 3000),
        'ok',
        JSON.stringify(s.calls.tally()),
      );
    });
  });
});
