import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Lookout } from '../../src/main.ts';
import { freePort } from '../../support/ports.ts';
import { connectClient, startTestLookout } from '../support/lookout.ts';
import { spawnLookout } from '../support/process.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(repo, 'src/cli.ts');

/** The first `node` on PATH outside any node_modules: the machine's own, not the one npm put first. */
function systemNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

function nodeVersion(node: string): number[] {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim().slice(1).split('.').map(Number);
}

describe('the front door', () => {
  it('on a Node older than 22.15, the built lookout says which Node it needs and exits 1', (t) => {
    const node = systemNode();
    const [major = 0, minor = 0] = node ? nodeVersion(node) : [];
    if (!node || major > 22 || (major === 22 && minor >= 15)) {
      t.skip(`no Node older than 22.15 on the system PATH (found ${node ?? 'none'})`);
      return;
    }
    const out = mkdtempSync(join(tmpdir(), 'lookout-build-'));
    try {
      execFileSync(join(repo, 'node_modules/.bin/tsc'), ['-p', join(repo, 'tsconfig.json'), '--outDir', out]);
      const run = spawnSync(node, [join(out, 'cli.js'), '--version'], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /Node\.js 22\.15 or newer is needed .*this is Node\.js \d+\.\d+\.\d+/);
      assert.doesNotMatch(run.stderr, /SyntaxError|^\s+at /m);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('the start-up line gives the URL of /mcp, /metrics, each health probe, /logs and the live view, and each answers', async () => {
    const lookout = await spawnLookout([]);
    try {
      const line = JSON.parse(lookout.lines.find((l) => l.includes('"lookout listening"')) ?? '{}') as {
        url: string;
        metrics: string;
        health: { live: string; ready: string; startup: string };
        logs: string;
        live: string;
      };
      const base = new URL(line.url).origin;
      assert.equal(line.url, `${base}/mcp`);
      const urls = [
        line.metrics,
        line.health.live,
        line.health.ready,
        line.health.startup,
        line.logs,
        line.live,
      ];
      assert.deepEqual(
        urls,
        ['/metrics', '/health/live', '/health/ready', '/health/startup', '/logs', '/'].map(
          (p) => `${base}${p}`,
        ),
      );
      for (const url of urls) {
        const response = await fetch(url);
        assert.equal(response.status, 200, url);
        await response.arrayBuffer();
      }
    } finally {
      await lookout.stop();
    }
  });

  it('the start-up line gives the /metrics URL on its own port when telemetry.metricsPort is set', async () => {
    const metricsPort = await freePort();
    const lookout = await spawnLookout(['--metrics-port', String(metricsPort)]);
    try {
      const line = JSON.parse(lookout.lines.find((l) => l.includes('"lookout listening"')) ?? '{}') as {
        metrics?: string;
      };
      assert.equal(line.metrics, `http://127.0.0.1:${metricsPort}/metrics`);
      const response = await fetch(line.metrics);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /^target_info\{/m);
    } finally {
      await lookout.stop();
    }
  });

  it('keygen --out creates the directory, parents included, when it does not exist', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'lookout-keys-')), 'home', '.lookout');
    const run = spawnSync(process.execPath, [cli, 'keygen', '--out', out], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(existsSync(join(out, 'lookout-signing.key')));
    assert.ok(existsSync(join(out, 'lookout-signing.pub')));
  });

  it("a tool module outside the repository imports 'lookout' and its tool is served", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lookout-my-tools-'));
    assert.ok(!dir.startsWith(repo));
    const module = join(dir, 'my-tools.ts');
    writeFileSync(
      module,
      [
        "import { defineTool, z } from 'lookout';",
        'export const add = defineTool({',
        "  name: 'add',",
        "  description: 'Adds two numbers.',",
        '  input: z.object({ a: z.number(), b: z.number() }),',
        '  output: z.object({ sum: z.number() }),',
        '  handler: ({ a, b }: { a: number; b: number }) => ({ sum: a + b }),',
        '});',
        '',
      ].join('\n'),
    );
    const lookout = await spawnLookout(['--tools', module]);
    try {
      const client = await connectClient(lookout.url);
      const { tools } = await client.listTools();
      assert.ok(tools.some((tool) => tool.name === 'add'));
      const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
      assert.deepEqual(result.structuredContent, { sum: 42 });
      await client.close();
    } finally {
      await lookout.stop();
    }
  });

  it('a misspelt LOOKOUT_* variable is named in a warning with the closest known one, and start-up goes on', () => {
    const run = spawnSync(process.execPath, [cli, '--print-config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', LOOKOUT_SESSION_KEY: 'x', LOOKOUT_PORT: '9000' },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stderr,
      /^lookout: warning: LOOKOUT_SESSION_KEY is not a Lookout setting and is ignored; did you mean LOOKOUT_SESSION_KEYS\?$/m,
    );
    assert.doesNotMatch(run.stderr, /LOOKOUT_PORT/);
    assert.equal((JSON.parse(run.stdout) as { port: number }).port, 9000);
  });
});

describe('Expect: 100-continue', () => {
  const maxBodyBytes = 4096;
  let lookout: Lookout;
  before(async () => {
    lookout = await startTestLookout({ mcp: { maxBodyBytes } });
  });
  after(() => lookout.close());

  /** Sends only the headers, then waits: for `100 Continue` (and then sends the body) or a final answer. */
  async function send(length: number): Promise<{ continued: boolean; status: number; body: string }> {
    const url = new URL(lookout.url);
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'content-length': length,
        expect: '100-continue',
      },
    });
    let continued = false;
    req.on('continue', () => {
      continued = true;
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
      req.end(ping.padEnd(length, ' '));
    });
    req.flushHeaders();
    const [response] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    let body = '';
    for await (const chunk of response) body += chunk;
    if (!continued) req.destroy();
    return { continued, status: response.statusCode ?? 0, body };
  }

  it('a body over the limit gets 413 before any 100 Continue, with the JSON-RPC error', async () => {
    const answer = await send(maxBodyBytes + 1);
    assert.equal(answer.continued, false);
    assert.equal(answer.status, 413);
    assert.equal((JSON.parse(answer.body) as { error: { code: number } }).error.code, -32600);
  });

  it('a body within the limit gets 100 Continue and is served', async () => {
    const answer = await send(200);
    assert.equal(answer.continued, true);
    // Without a session, the ping is refused for the missing session id: the body was read and judged.
    assert.equal(answer.status, 400);
    assert.match(answer.body, /Mcp-Session-Id/i);
  });

  it('keeps serving afterwards', async () => {
    const client = await connectClient(lookout.url);
    await client.ping();
    await client.close();
  });
});

it('the package names entry points that the build makes', () => {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    exports: Record<string, { types: string; default: string }>;
    types: string;
    files: string[];
    scripts: Record<string, string>;
  };
  const out = mkdtempSync(join(tmpdir(), 'lookout-build-'));
  try {
    execFileSync(join(repo, 'node_modules/.bin/tsc'), [
      '-p',
      join(repo, 'tsconfig.json'),
      '--outDir',
      join(out, 'dist'),
    ]);
    const entry = pkg.exports['.'];
    assert.ok(entry);
    for (const path of [pkg.bin.lookout, entry.types, entry.default, pkg.types]) {
      assert.ok(path && existsSync(join(out, path)), `${path} is built`);
      assert.ok(
        pkg.files.some((f) => path.replace(/^\.\//, '').startsWith(`${f}/`)),
        `${path} is packed`,
      );
    }
    assert.match(pkg.scripts.prepack ?? '', /npm run build/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
