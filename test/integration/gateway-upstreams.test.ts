import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { freePort } from '../../support/ports.ts';
import { connectClient, startTestLookout, upstreamsReady } from '../support/lookout.ts';

const node = process.execPath;
const fixture = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));
const paginated = fileURLToPath(new URL('../fixtures/paginated-server.ts', import.meta.url));

const text = (result: Record<string, unknown>) =>
  (result.content as { text: string }[] | undefined)?.[0]?.text;

type LogLine = { message: string; upstream?: string; [key: string]: unknown };
const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as LogLine);

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function readiness(url: string) {
  const res = await fetch(new URL('/health/ready', url));
  const body = (await res.json()) as { checks: Record<string, { detail?: string }> };
  return { status: res.status, checks: body.checks };
}

async function allTools(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? undefined : { cursor });
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return names;
}

function startHttpFixture(port: number, ...flags: string[]): Promise<ChildProcess> {
  const child = spawn(node, [fixture, '--http', String(port), ...flags], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve) =>
    child.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve(child)),
  );
}

describe('gateway start-up: listen at once, upstreams in the background', () => {
  it('serves before a slow child answers (longer than the old 10 s connect timeout), waits for it without killing it, then announces its tools; readiness waits only for the required one', {
    timeout: 60_000,
  }, async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'lookout-slow-')), 'pid');
    const started = Date.now();
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'slow',
          transport: 'stdio',
          command: node,
          args: [fixture],
          env: { FIXTURE_START_DELAY_MS: '11000', FIXTURE_PID_FILE: pidFile },
          required: true,
          // Calls on the supervised child itself: "started once" counts that one process.
          isolation: 'shared',
        },
        // Never there, not required: it does not hold readiness.
        { name: 'absent', transport: 'http', url: `http://127.0.0.1:${await freePort()}/mcp` },
      ],
    });
    try {
      assert.ok(Date.now() - started < 3000, `listening after ${Date.now() - started} ms`);
      const client = await connectClient(lookout.url);
      const changed = new Promise<number>((resolve) =>
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve(Date.now())),
      );
      assert.ok(!(await allTools(client)).includes('slow__report_meta'));
      const before = await readiness(lookout.url);
      assert.equal(before.status, 503, 'not ready while the required upstream starts');
      assert.equal(before.checks['upstream:slow']?.detail, 'starting');
      const announcedAt = await changed;
      assert.ok(announcedAt - started >= 10_000, 'announced when the child answered');
      assert.ok((await allTools(client)).includes('slow__report_meta'));
      assert.equal(text(await client.callTool({ name: 'slow__add_tool', arguments: {} })), 'ok');
      const after = await readiness(lookout.url);
      assert.equal(after.status, 200, 'ready: the required one is up; the absent one is not required');
      assert.notEqual(after.checks['upstream:absent']?.detail, 'ready');
      const lines = parsed(lookout.logLines).filter((l) => l.upstream === 'slow');
      assert.equal(lines.filter((l) => l.line === 'fixture upstream ready').length, 1, 'started once');
      assert.ok(!lines.some((l) => l.message === 'upstream connection failed'), 'never killed');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.doesNotThrow(() => process.kill(pid, 0), 'the first process is the one serving');
      await client.close();
    } finally {
      await lookout.close();
    }
  });

  it('reports a child still starting after timeouts.startupSeconds, with its stderr, and goes on waiting', {
    timeout: 30_000,
  }, async () => {
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'late',
          transport: 'stdio',
          // A shell says it warms up at once (a node child might not, on a busy machine), then serves.
          command: '/bin/sh',
          args: ['-c', 'echo "fixture warming up" >&2; sleep 2.5; exec "$0" "$1"', node, fixture],
          timeouts: { startupSeconds: 1 },
        },
      ],
    });
    try {
      await upstreamsReady(lookout, 20_000);
      const slow = parsed(lookout.logLines).find(
        (l) => l.message === 'upstream slow to start: still waiting for it',
      );
      assert.ok(slow, 'reported');
      assert.deepEqual(slow.stderr, ['fixture warming up']);
    } finally {
      await lookout.close();
    }
  });
});

describe('stdio children: environment and stderr', () => {
  it("inherit Lookout's environment minus its secrets (allow/deny), plus their own env", async () => {
    const lookout = await startTestLookout(
      {
        gateway: { childEnv: { allow: ['LOOKOUT_PUBLIC_*'] } },
        upstreams: [
          {
            name: 'env',
            transport: 'stdio',
            command: node,
            args: [fixture],
            env: { OWN: 'mine', HTTPS_PROXY: 'own' },
          },
        ],
      },
      {
        environment: {
          PATH: process.env.PATH,
          NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem',
          HTTPS_PROXY: 'http://proxy:3128',
          npm_config_cache: '/tmp/npm-cache',
          LOOKOUT_SESSION_KEYS: 'secret-key',
          LOOKOUT_AUTH_TOKEN: 'secret-token',
          LOOKOUT_PUBLIC_NOTE: 'shared',
          OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer x',
          OTEL_SERVICE_NAME: 'svc',
        },
      },
    );
    try {
      await upstreamsReady(lookout);
      const client = await connectClient(lookout.url);
      const names = [
        'NODE_EXTRA_CA_CERTS',
        'HTTPS_PROXY',
        'npm_config_cache',
        'LOOKOUT_SESSION_KEYS',
        'LOOKOUT_AUTH_TOKEN',
        'LOOKOUT_PUBLIC_NOTE',
        'OTEL_EXPORTER_OTLP_HEADERS',
        'OTEL_SERVICE_NAME',
        'OWN',
      ];
      const seen = JSON.parse(
        text(await client.callTool({ name: 'env__report_env', arguments: { names } })) ?? '{}',
      );
      assert.deepEqual(seen, {
        NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem',
        HTTPS_PROXY: 'own',
        npm_config_cache: '/tmp/npm-cache',
        LOOKOUT_PUBLIC_NOTE: 'shared',
        OTEL_SERVICE_NAME: 'svc',
        OWN: 'mine',
      });
      await client.close();
    } finally {
      await lookout.close();
    }
  });

  it("logs a failing child's last stderr lines with the failure", { timeout: 30_000 }, async () => {
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'broken',
          transport: 'stdio',
          command: node,
          args: [fixture],
          env: { FIXTURE_FAIL_AT_START: 'fatal: cannot open database /nowhere/db.sqlite' },
        },
      ],
    });
    try {
      await until(
        'a failure logged',
        () => parsed(lookout.logLines).some((l) => l.message === 'upstream connection failed'),
        10_000,
      );
      const failure = parsed(lookout.logLines).find((l) => l.message === 'upstream connection failed');
      assert.equal(failure?.upstream, 'broken');
      assert.deepEqual(failure?.stderr, ['fatal: cannot open database /nowhere/db.sqlite']);
    } finally {
      await lookout.close();
    }
  });
});

describe('garbage on stdout', () => {
  it('logs a line that is no JSON-RPC message and goes on serving', { timeout: 30_000 }, async () => {
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'chatty',
          transport: 'stdio',
          command: node,
          args: [fixture],
          env: { FIXTURE_STDOUT_BANNER: 'Chatty server v1 starting on stdio' },
        },
      ],
    });
    try {
      await upstreamsReady(lookout);
      const client = await connectClient(lookout.url);
      assert.equal(text(await client.callTool({ name: 'chatty__add_tool', arguments: {} })), 'ok');
      await client.close();
      const logged = parsed(lookout.logLines).find((l) => l.message === 'upstream transport error');
      assert.equal(logged?.upstream, 'chatty');
      assert.match(String(logged?.error), /not a JSON-RPC message on stdout: Chatty server v1 starting/);
    } finally {
      await lookout.close();
    }
  });
});

describe('supervision that fits the transport', () => {
  it('connects an HTTP upstream that comes up seconds after Lookout: refused connections are retried with backoff, never held', {
    timeout: 30_000,
  }, async () => {
    const port = await freePort();
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'later',
          transport: 'http',
          url: `http://127.0.0.1:${port}/mcp`,
          // The crash-loop settings are a stdio child's: 3 refusals would hold a stdio upstream 60 s.
          restart: { initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.5, maxRestarts: 3, holdSeconds: 60 },
        },
      ],
    });
    let upstream: ChildProcess | undefined;
    try {
      await new Promise((r) => setTimeout(r, 3000));
      upstream = await startHttpFixture(port);
      const upAt = Date.now();
      await upstreamsReady(lookout, 5000);
      assert.ok(Date.now() - upAt < 3000, `connected ${Date.now() - upAt} ms after it came up`);
      const lines = parsed(lookout.logLines);
      assert.ok(lines.filter((l) => l.message === 'upstream connection failed').length >= 4);
      assert.ok(!lines.some((l) => l.message.startsWith('upstream crash loop')));
    } finally {
      await lookout.close();
      upstream?.kill('SIGTERM');
    }
  });

  it('forgets earlier restarts of a stdio child once it stayed up restart.stableAfterSeconds', {
    timeout: 60_000,
  }, async () => {
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        {
          name: 'flaky',
          transport: 'stdio',
          command: node,
          args: [fixture],
          env: { FIXTURE_EXIT_AFTER_MS: '2000' },
          restart: {
            maxRestarts: 2,
            windowSeconds: 60,
            holdSeconds: 30,
            initialBackoffSeconds: 0.05,
            stableAfterSeconds: 0.3,
          },
        },
      ],
    });
    try {
      const ready = () =>
        parsed(lookout.logLines).filter((l) => l.message === 'upstream ready' && l.upstream === 'flaky')
          .length;
      await until('four starts', () => ready() >= 4, 40_000);
      assert.ok(
        !parsed(lookout.logLines).some((l) => l.message.startsWith('upstream crash loop')),
        'each run outlived stableAfterSeconds: no crash loop',
      );
    } finally {
      await lookout.close();
    }
  });
});

describe('large results', () => {
  it('fails only the call whose result is over the limit (stdio and HTTP), logs why, and the upstream stays up', {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const http = await startHttpFixture(port);
    const jsonPort = await freePort();
    const json = await startHttpFixture(jsonPort, '--json');
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        { name: 'fx', transport: 'stdio', command: node, args: [fixture], maxResultBytes: 1_000_000 },
        {
          name: 'fxj',
          transport: 'http',
          url: `http://127.0.0.1:${jsonPort}/mcp`,
          maxResultBytes: 1_000_000,
        },
        { name: 'fxh', transport: 'http', url: `http://127.0.0.1:${port}/mcp`, maxResultBytes: 1_000_000 },
        // The default limit: 10 MiB, the size at which the SDK's stdio reader gives up on the connection.
        { name: 'dflt', transport: 'stdio', command: node, args: [fixture] },
      ],
    });
    try {
      await upstreamsReady(lookout);
      const client = await connectClient(lookout.url);
      for (const [upstream, bytes] of [
        ['fx', 2_000_000],
        ['fxh', 2_000_000],
        ['fxj', 2_000_000],
        ['dflt', 11 * 1024 * 1024],
      ] as const) {
        await assert.rejects(
          client.callTool({ name: `${upstream}__big`, arguments: { bytes } }),
          (error: Error & { code?: number }) => {
            assert.equal(error.code, -32013, upstream);
            assert.match(
              error.message,
              new RegExp(`${upstream}'s answer exceeds its limit of \\d+ bytes \\(maxResultBytes\\)`),
            );
            return true;
          },
        );
        const small = await client.callTool({ name: `${upstream}__big`, arguments: { bytes: 1000 } });
        assert.equal(text(small)?.length, 1000, `${upstream} still serves`);
      }
      const lines = parsed(lookout.logLines);
      const logged = lines.filter((l) => l.message === 'upstream result too large: dropped');
      assert.deepEqual(
        logged.map((l) => l.upstream),
        ['fx', 'fxh', 'fxj', 'dflt'],
      );
      assert.ok(!lines.some((l) => l.message === 'upstream connection lost'), 'no upstream went down');
      assert.ok(!lines.some((l) => l.message === 'upstream circuit breaker'), 'no breaker opened');
      await client.close();
    } finally {
      await lookout.close();
      http.kill('SIGTERM');
      json.kill('SIGTERM');
    }
  });
});

describe('paginated upstream lists', () => {
  it('follows tools, resources, templates and prompts to their last page, and stops a cursor that loops', {
    timeout: 30_000,
  }, async () => {
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        { name: 'pages', transport: 'stdio', command: node, args: [paginated] },
        {
          name: 'loop',
          transport: 'stdio',
          command: node,
          args: [paginated],
          env: { FIXTURE_TOOLS_CURSOR: 'repeat' },
        },
        {
          name: 'endless',
          transport: 'stdio',
          command: node,
          args: [paginated],
          env: { FIXTURE_TOOLS_CURSOR: 'endless' },
        },
      ],
    });
    try {
      await upstreamsReady(lookout);
      const client = await connectClient(lookout.url);
      const tools = await allTools(client);
      for (let i = 1; i <= 5; i++) assert.ok(tools.includes(`pages__tool${i}`), `pages__tool${i}`);
      assert.equal(text(await client.callTool({ name: 'pages__tool5', arguments: {} })), 'tool5');
      const resources = (await client.listResources()).resources.map((r) => r.uri);
      for (let i = 1; i <= 3; i++) assert.ok(resources.includes(`paged://resource/${i}`));
      const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
      for (let i = 1; i <= 3; i++) assert.ok(templates.includes(`paged://template${i}/{id}`));
      const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
      for (let i = 1; i <= 3; i++) assert.ok(prompts.includes(`pages__prompt${i}`));
      const truncated = parsed(lookout.logLines).filter((l) => l.message === 'upstream list truncated');
      assert.deepEqual(truncated.map((l) => [l.upstream, l.list, l.reason, l.pages]).sort(), [
        ['endless', 'tools/list', 'page cap', 100],
        ['loop', 'tools/list', 'repeated cursor', 2],
      ]);
      await client.close();
    } finally {
      await lookout.close();
    }
  });
});

describe('MCP-level health probes', () => {
  it('finds a hung upstream (alive, silent): hides its tools after the grace period, restarts the stdio child, marks the HTTP one down, and brings the tools back when it answers', {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const http = await startHttpFixture(port);
    const health = { intervalSeconds: 0.3, timeoutSeconds: 1, graceSeconds: 2 };
    const lookout = await startTestLookout({
      log: { level: 'info', format: 'json' },
      upstreams: [
        // Probes watch the supervised connection: go_silent is sent on it.
        { name: 'hung', transport: 'stdio', command: node, args: [fixture], health, isolation: 'shared' },
        {
          name: 'hungh',
          transport: 'http',
          url: `http://127.0.0.1:${port}/mcp`,
          health,
          isolation: 'shared',
          timeouts: { connectSeconds: 0.5 },
          restart: { initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.3 },
        },
      ],
    });
    try {
      await upstreamsReady(lookout);
      const client = await connectClient(lookout.url);
      const tools = async () => (await allTools(client)).filter((n) => n.endsWith('__report_meta'));
      assert.deepEqual((await tools()).sort(), ['hung__report_meta', 'hungh__report_meta']);
      const lines = () => parsed(lookout.logLines);
      const hungAt = (name: string) =>
        lines().some((l) => l.message.startsWith('upstream unresponsive') && l.upstream === name);

      // stdio: it stops reading for a minute; the probe restarts it long before that.
      assert.equal(
        text(await client.callTool({ name: 'hung__go_silent', arguments: { ms: 60_000 } })),
        'going silent',
      );
      await until('the stdio upstream found hung', () => hungAt('hung'), 10_000);
      assert.ok(!(await tools()).includes('hung__report_meta'), 'its tools are hidden');
      await until(
        'the stdio upstream restarted',
        async () => (await tools()).includes('hung__report_meta'),
        15_000,
      );
      assert.match(text(await client.callTool({ name: 'hung__report_meta', arguments: {} })) ?? '', /^\{/);

      // HTTP: silent for 8 s; marked down meanwhile, back when it answers.
      assert.equal(
        text(await client.callTool({ name: 'hungh__go_silent', arguments: { ms: 8000 } })),
        'going silent',
      );
      await until('the HTTP upstream found hung', () => hungAt('hungh'), 10_000);
      assert.ok(!(await tools()).includes('hungh__report_meta'), 'its tools are hidden');
      assert.notEqual((await readiness(lookout.url)).checks['upstream:hungh']?.detail, 'ready');
      await until(
        'the HTTP upstream back',
        async () => (await tools()).includes('hungh__report_meta'),
        20_000,
      );
      assert.match(text(await client.callTool({ name: 'hungh__report_meta', arguments: {} })) ?? '', /^\{/);
      await client.close();
    } finally {
      await lookout.close();
      http.kill('SIGTERM');
    }
  });
});
