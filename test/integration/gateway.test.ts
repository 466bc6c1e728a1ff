import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  LoggingMessageNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { Lookout } from '../../src/main.ts';
import { freePort } from '../../support/ports.ts';
import { connectClient, startTestLookout, upstreamsReady } from '../support/lookout.ts';

const node = process.execPath;
const everything = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);
const fixture = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));

/** Node processes started by this test process (upstreams), by pid. */
function childNodeProcesses(): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('upstream-server') || l.includes('server-everything'));
  } catch {
    return [];
  }
}

/** `promise`, or a rejection naming `what` after `ms`: a notification that never comes fails, not hangs. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(what)), ms).unref()),
  ]);
}

const text = (result: Record<string, unknown>) =>
  (result.content as { text: string }[] | undefined)?.[0]?.text;

describe('gateway to real upstream MCP servers', () => {
  const spans = new InMemorySpanExporter();
  let httpUpstream: ChildProcess;
  let httpFixture: ChildProcess;
  let httpFixtureStderr = '';
  let lookout: Lookout & { logLines: string[] };

  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(
      new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] }),
    );
    const port = await freePort();
    httpUpstream = spawn(node, [everything, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve) =>
      httpUpstream.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
    );
    const fixturePort = await freePort();
    httpFixture = spawn(node, [fixture, '--http', String(fixturePort)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve) =>
      httpFixture.stderr?.on('data', (d: Buffer) => {
        httpFixtureStderr += d.toString();
        if (httpFixtureStderr.includes('listening')) resolve();
      }),
    );
    lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'ev',
          transport: 'stdio',
          command: node,
          args: [everything, 'stdio'],
          tools: { deny: ['get-env'] },
        },
        { name: 'evh', transport: 'http', url: `http://127.0.0.1:${port}/mcp` },
        { name: 'fx', transport: 'stdio', command: node, args: [fixture] },
        { name: 'fxh', transport: 'http', url: `http://127.0.0.1:${fixturePort}/mcp` },
        // Shared: a tool one client adds is every client's, as with a server whose tools are global.
        { name: 'fxs', transport: 'stdio', command: node, args: [fixture], isolation: 'shared' },
        {
          name: 'fxhs',
          transport: 'http',
          url: `http://127.0.0.1:${fixturePort}/mcp`,
          isolation: 'shared',
        },
      ],
    });
    await upstreamsReady(lookout);
  });
  after(async () => {
    await lookout.close();
    httpUpstream.kill('SIGTERM');
    httpFixture.kill('SIGTERM');
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it('serves every upstream tool under <upstream>__<tool>, minus denied ones', async () => {
    const client = await connectClient(lookout.url);
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const name of ['ev__echo', 'ev__get-sum', 'evh__echo', 'fx__report_meta', 'echo'])
      assert.ok(names.includes(name), name);
    assert.ok(!names.includes('ev__get-env'), 'denied tool is not served');
    await client.close();
  });

  it("serves upstreams' prompts (namespaced) and resources and templates (under their own URIs)", async () => {
    const client = await connectClient(lookout.url);
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    assert.ok(prompts.includes('ev__args-prompt') && prompts.includes('evh__simple-prompt'), prompts.join());
    const prompt = await client.getPrompt({ name: 'ev__args-prompt', arguments: { city: 'Lyon' } });
    assert.match(JSON.stringify(prompt.messages), /Lyon/);
    const resources = (await client.listResources()).resources;
    const doc = resources.find((r) => r.uri === 'demo://resource/static/document/features.md');
    assert.ok(doc, resources.map((r) => r.uri).join());
    assert.equal(doc.name, 'ev__features.md', 'the first upstream to serve a URI keeps it');
    const read = await client.readResource({ uri: doc.uri });
    assert.equal(read.contents[0]?.uri, doc.uri);
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    assert.ok(templates.includes('demo://resource/dynamic/text/{resourceId}'));
    const dynamic = await client.readResource({ uri: 'demo://resource/dynamic/text/7' });
    assert.match(JSON.stringify(dynamic.contents), /7/);
    await client.close();
  });

  it('routes a call to the stdio and to the HTTP upstream', async () => {
    const client = await connectClient(lookout.url);
    assert.equal(
      text(await client.callTool({ name: 'ev__echo', arguments: { message: 'over stdio' } })),
      'Echo: over stdio',
    );
    assert.equal(
      text(await client.callTool({ name: 'evh__echo', arguments: { message: 'over http' } })),
      'Echo: over http',
    );
    const sum = await client.callTool({ name: 'evh__get-sum', arguments: { a: 2, b: 3 } });
    assert.match(text(sum) ?? '', /5/);
    await client.close();
  });

  it('relays progress notifications from the upstream', async () => {
    const client = await connectClient(lookout.url);
    for (const upstream of ['ev', 'evh']) {
      const progress: number[] = [];
      const result = await client.callTool(
        { name: `${upstream}__trigger-long-running-operation`, arguments: { duration: 0.3, steps: 3 } },
        undefined,
        { onprogress: (p) => progress.push(p.progress) },
      );
      assert.match(text(result) ?? '', /completed/i);
      assert.deepEqual(progress, [1, 2, 3], upstream);
    }
    await client.close();
  });

  it('relays cancellation to the upstream (stdio and HTTP)', async () => {
    const client = await connectClient(lookout.url);
    const cancelled = {
      fx: () => lookout.logLines.some((l) => l.includes('slow: cancelled') && l.includes('"upstream":"fx"')),
      fxh: () => httpFixtureStderr.includes('slow: cancelled'),
    };
    for (const [upstream, sawCancellation] of Object.entries(cancelled)) {
      const controller = new AbortController();
      let progressed = false;
      const call = client.callTool({ name: `${upstream}__slow`, arguments: { ms: 20_000 } }, undefined, {
        signal: controller.signal,
        onprogress: () => {
          progressed = true;
        },
      });
      while (!progressed) await new Promise((r) => setTimeout(r, 10));
      controller.abort();
      await assert.rejects(call);
      for (let i = 0; i < 200 && !sawCancellation(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(sawCancellation(), `${upstream} saw the cancellation`);
    }
    await client.close();
  });

  it("propagates an upstream's list_changed to connected clients (stdio, and HTTP's GET stream)", async () => {
    for (const upstream of ['fxs', 'fxhs']) {
      const client = await connectClient(lookout.url);
      const changed = new Promise<void>((resolve) =>
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
      );
      // The standalone stream must be open for the notification to have somewhere to go.
      await new Promise((r) => setTimeout(r, 200));
      await client.callTool({ name: `${upstream}__add_tool`, arguments: {} });
      await within(changed, 5000, `no list_changed relayed from ${upstream}`);
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes(`${upstream}__added`), upstream);
      assert.equal(text(await client.callTool({ name: `${upstream}__added`, arguments: {} })), 'added');
      await client.close();
    }
  });

  it("tells of a change to the tools of a client's own connection, which the shared list does not show", async () => {
    for (const upstream of ['fx', 'fxh']) {
      const client = await connectClient(lookout.url);
      await client.callTool({ name: `${upstream}__report_meta`, arguments: {} });
      // The connection's own tools are read beside its first call: the change must come after that.
      await new Promise((r) => setTimeout(r, 300));
      const changed = new Promise<void>((resolve) =>
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
      );
      await client.callTool({ name: `${upstream}__add_tool`, arguments: {} });
      await within(changed, 5000, `no list_changed for ${upstream}'s own connection`);
      await client.close();
    }
  });

  it('tells nobody of a list_changed that changes nothing they are served', async () => {
    // server-everything announces a tool list change on every new connection (it adds tools for what
    // the client supports): each new session's child does, and the catalog it is read from stays the same.
    const watcher = await connectClient(lookout.url);
    const told: string[] = [];
    for (const schema of [
      ToolListChangedNotificationSchema,
      ResourceListChangedNotificationSchema,
      PromptListChangedNotificationSchema,
    ])
      watcher.setNotificationHandler(schema, (n) => void told.push(n.method));
    await watcher.callTool({ name: 'ev__echo', arguments: { message: 'watching' } });
    await new Promise((r) => setTimeout(r, 200));
    told.length = 0;
    for (const name of ['second', 'third']) {
      const client = await connectClient(lookout.url, name);
      assert.equal(
        text(await client.callTool({ name: 'ev__echo', arguments: { message: name } })),
        `Echo: ${name}`,
      );
      await client.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(told, [], "other clients' connections told this one nothing");
    await watcher.close();
  });

  it('carries the trace: server span → client span → the traceparent the upstream received', async () => {
    spans.reset();
    const client = await connectClient(lookout.url);
    const meta = JSON.parse(
      text(await client.callTool({ name: 'fx__report_meta', arguments: {} })) ?? '{}',
    ) as { traceparent?: string };
    await client.close();
    const server = spans.getFinishedSpans().find((s) => s.name === 'tools/call fx__report_meta');
    const clientSpan = spans.getFinishedSpans().find((s) => s.name === 'tools/call report_meta');
    assert.ok(server && clientSpan);
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(clientSpan.kind, SpanKind.CLIENT);
    assert.equal(clientSpan.parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(clientSpan.attributes['lookout.upstream'], 'fx');
    assert.equal(clientSpan.attributes['network.transport'], 'pipe');
    assert.equal(
      meta.traceparent,
      `00-${clientSpan.spanContext().traceId}-${clientSpan.spanContext().spanId}-01`,
    );
  });

  it('to an HTTP upstream: the HTTP client span under the MCP one, which the traceparent header names', async () => {
    spans.reset();
    const client = await connectClient(lookout.url);
    const seen = JSON.parse(
      text(await client.callTool({ name: 'fxh__report_meta', arguments: {} })) ?? '{}',
    ) as {
      traceparent?: string;
      header?: string;
    };
    await client.close();
    const finished = spans.getFinishedSpans();
    const clientSpan = finished.find((s) => s.name === 'tools/call report_meta');
    assert.ok(clientSpan);
    const traceparent = (span: ReadableSpan) =>
      `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
    assert.equal(seen.traceparent, traceparent(clientSpan));
    assert.equal(clientSpan.attributes['server.address'], '127.0.0.1');
    assert.equal(typeof clientSpan.attributes['server.port'], 'number');
    assert.equal(clientSpan.attributes['network.transport'], 'tcp');
    const httpSpans = finished.filter(
      (s) => s.kind === SpanKind.CLIENT && s.parentSpanContext?.spanId === clientSpan.spanContext().spanId,
    );
    assert.equal(httpSpans.length, 1, 'one HTTP client span for the call');
    const [httpSpan] = httpSpans;
    assert.ok(httpSpan);
    assert.equal(seen.header, traceparent(httpSpan));
    assert.equal(httpSpan.name, 'POST');
    assert.equal(httpSpan.attributes['http.request.method'], 'POST');
    assert.equal(httpSpan.attributes['http.response.status_code'], 200);
    assert.equal(httpSpan.attributes['server.address'], '127.0.0.1');
    assert.equal(httpSpan.attributes['server.port'], clientSpan.attributes['server.port']);
    assert.equal(
      httpSpan.attributes['url.full'],
      `http://127.0.0.1:${clientSpan.attributes['server.port']}/mcp`,
    );
  });

  it("relays an upstream's log messages to the client whose call is running", async () => {
    const client = await connectClient(lookout.url);
    const logged: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(n.params.data);
    });
    for (const upstream of ['fx', 'fxh']) {
      assert.equal(
        text(await client.callTool({ name: `${upstream}__log_something`, arguments: {} })),
        'logged',
      );
    }
    assert.deepEqual(logged, ['from upstream', 'from upstream']);
    await client.close();
  });
});

describe('gateway failure handling', () => {
  it('times out a hung upstream, opens, half-opens and closes its breaker, and leaves the others alone', {
    timeout: 60_000,
  }, async () => {
    const lookout = await startTestLookout({
      upstreams: [
        {
          name: 'stuck',
          transport: 'stdio',
          command: node,
          args: [fixture],
          timeouts: { requestSeconds: 0.4 },
          retry: { attempts: 0 },
          breaker: { consecutiveFailures: 2, halfOpenAfterSeconds: 1 },
        },
        { name: 'fine', transport: 'stdio', command: node, args: [fixture] },
      ],
    });
    try {
      await upstreamsReady(lookout);
      const client = await connectClient(lookout.url);
      // The session's own upstream process is started by its first call, before the timed ones.
      await client.callTool({ name: 'stuck__report_meta', arguments: {} });
      for (let i = 0; i < 2; i++) {
        const started = Date.now();
        await assert.rejects(
          client.callTool({ name: 'stuck__hang', arguments: {} }),
          (error: Error & { code?: number }) => {
            assert.equal(error.code, -32011);
            assert.match(error.message, /stuck did not answer within 0.4 s/);
            return true;
          },
        );
        assert.ok(Date.now() - started < 2000, 'no hang past the timeout');
      }
      const openedAt = Date.now();
      await assert.rejects(
        client.callTool({ name: 'stuck__report_meta', arguments: {} }),
        (error: Error & { code?: number }) => {
          assert.equal(error.code, -32010);
          assert.match(error.message, /stuck: circuit open/);
          return true;
        },
      );
      assert.ok(Date.now() - openedAt < 200, 'an open breaker fails fast');
      assert.equal(
        text(await client.callTool({ name: 'fine__add_tool', arguments: {} })),
        'ok',
        'the other upstream is unaffected',
      );
      await new Promise((r) => setTimeout(r, 1100));
      const healed = await client.callTool({ name: 'stuck__report_meta', arguments: {} });
      assert.ok(
        text(healed)?.startsWith('{'),
        'half-open lets a call through; its success closes the breaker',
      );
      await client.callTool({ name: 'stuck__report_meta', arguments: {} });
      await client.close();
    } finally {
      await lookout.close();
    }
  });

  it('opens a new session with an HTTP upstream that restarted (down meanwhile, or back at once), closing the breaker and clearing its count', {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const startUpstream = async () => {
      const child = spawn(node, [fixture, '--http', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
      await new Promise<void>((resolve) =>
        child.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
      );
      return child;
    };
    const stopUpstream = async (child: ChildProcess) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    };
    let upstream = await startUpstream();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new TracerProvider());
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'web',
          transport: 'http',
          url: `http://127.0.0.1:${port}/mcp`,
          restart: { initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.5 },
          // Two failed calls open the breaker; only a reconnect can close it within the test.
          breaker: { consecutiveFailures: 2, halfOpenAfterSeconds: 60 },
        },
      ],
    });
    const callUntilAnswered = async (client: Awaited<ReturnType<typeof connectClient>>) => {
      for (let i = 0; i < 50; i++) {
        const answer = await client
          .callTool({ name: 'web__log_something', arguments: {} })
          .catch(() => undefined);
        if (answer && text(answer) === 'logged') return i;
        await new Promise((r) => setTimeout(r, 100));
      }
      return -1;
    };
    try {
      await upstreamsReady(lookout);
      const client = await connectClient(lookout.url);
      assert.equal(await callUntilAnswered(client), 0);
      await stopUpstream(upstream);
      upstream = await startUpstream();
      assert.ok(
        (await callUntilAnswered(client)) >= 0,
        'answered again after a restart with no call meanwhile',
      );
      const breakerStates = () =>
        lookout.logLines
          .filter((l) => l.includes('"upstream circuit breaker"'))
          .map((l) => (JSON.parse(l) as { state: string }).state);
      const readyLines = () => lookout.logLines.filter((l) => l.includes('"upstream ready"'));
      const failingCall = () =>
        assert.rejects(client.callTool({ name: 'web__log_something', arguments: {} }));

      await stopUpstream(upstream);
      await failingCall();
      await failingCall();
      assert.equal(breakerStates().at(-1), 'Open', 'two calls failed while it was down');
      const readyBefore = readyLines().length;
      upstream = await startUpstream();
      for (let i = 0; i < 100 && readyLines().length === readyBefore; i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(breakerStates().at(-1), 'Closed', 'the reconnect closed it, with no call needed');

      const statesBefore = breakerStates().length;
      await stopUpstream(upstream);
      await failingCall();
      assert.deepEqual(
        breakerStates().slice(statesBefore),
        [],
        'the reconnect cleared the count too: the first failure after it does not reopen the breaker',
      );
      upstream = await startUpstream();
      assert.ok(
        (await callUntilAnswered(client)) >= 0,
        'answered again after calls failed while it was down',
      );
      await client.close();
      assert.ok(!breakerStates().includes('Isolated'));
      const connected = readyLines();
      assert.equal(connected.length, 4);
      assert.ok(
        connected.every((l) => !l.includes('trace_id')),
        'reconnecting is not part of the trace of the call that found the connection lost',
      );
    } finally {
      await lookout.close();
      await stopUpstream(upstream);
      trace.disable();
      context.disable();
    }
  });

  it('restarts a crashing stdio upstream with backoff, then holds it (crash loop); readiness follows a required upstream', {
    timeout: 60_000,
  }, async () => {
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'crashy',
          transport: 'stdio',
          command: node,
          args: [fixture],
          env: { FIXTURE_EXIT_AFTER_MS: '150' },
          // Each start lives 150 ms: a child spoken to in 2025 at once, so an era probe's round trip does
          // not spend part of that life (the era tests cover the probe).
          era: 'legacy',
          required: true,
          restart: {
            maxRestarts: 3,
            windowSeconds: 60,
            holdSeconds: 30,
            initialBackoffSeconds: 0.05,
            maxBackoffSeconds: 1,
          },
        },
      ],
    });
    try {
      let ready: { status: string; checks: Record<string, { status: string; detail?: string }> } | undefined;
      for (let i = 0; i < 100; i++) {
        ready = (await (await fetch(new URL('/health/ready', lookout.url))).json()) as typeof ready;
        if (ready?.checks['upstream:crashy']?.detail === 'holding') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(ready?.checks['upstream:crashy']?.detail, 'holding');
      assert.equal(ready?.status, 'fail', 'a required upstream that is down fails readiness');
      const lines = lookout.logLines.map((l) => JSON.parse(l) as { message: string; upstream?: string });
      const lost = lines.filter(
        (l) => l.message === 'upstream connection lost' && l.upstream === 'crashy',
      ).length;
      const ready_ = lines.filter((l) => l.message === 'upstream ready' && l.upstream === 'crashy').length;
      assert.ok(ready_ >= 3, `restarted (${ready_} starts)`);
      assert.ok(lost >= 3, `${lost} exits seen`);
      assert.ok(lines.some((l) => l.message === 'upstream crash loop: holding before the next restart'));
      const client = await connectClient(lookout.url);
      await assert.rejects(client.callTool({ name: 'crashy__report_meta', arguments: {} }), /crashy/);
      await client.close();
    } finally {
      await lookout.close();
    }
  });

  it('leaves no upstream process behind after shutdown', async () => {
    const lookout = await startTestLookout({
      upstreams: [
        { name: 'a', transport: 'stdio', command: node, args: [fixture] },
        { name: 'b', transport: 'stdio', command: node, args: [fixture] },
      ],
    });
    assert.ok(childNodeProcesses().length >= 2, 'the upstreams run as child processes');
    await lookout.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(childNodeProcesses(), []);
  });
});
