import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnLookout } from '../support/process.ts';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));

/** A config with one stdio upstream (the fixture) that writes its pid to a file; start it slow or not. */
function stdioUpstreamConfig(startDelayMs = 0): { config: string; pidFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-exit-'));
  const pidFile = join(dir, 'upstream.pid');
  const config = join(dir, 'lookout.json');
  writeFileSync(
    config,
    JSON.stringify({
      upstreams: [
        {
          name: 'fx',
          transport: 'stdio',
          command: process.execPath,
          args: [fixture],
          env: { FIXTURE_PID_FILE: pidFile, FIXTURE_START_DELAY_MS: String(startDelayMs) },
        },
      ],
    }),
  );
  return { config, pidFile };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The upstream child is gone (or was never started). */
function assertNoChild(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(!alive(pid), `upstream process ${pid} is gone`);
}

/** Runs the CLI to its exit (SIGKILL after 20 s, which fails the test); resolves with code and time. */
async function runToExit(args: string[]): Promise<{ code: number | null; ms: number; stderr: string }> {
  const started = Date.now();
  const child = spawn(process.execPath, [cli, '--log-format', 'json', ...args], {
    env: { PATH: process.env.PATH ?? '', OTEL_SDK_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  return { code, ms: Date.now() - started, stderr };
}

describe('start-up failures end the process, with no child left', () => {
  it('a taken port, with a stdio upstream configured: exit code 1 within seconds', {
    timeout: 30_000,
  }, async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    const { config, pidFile } = stdioUpstreamConfig();
    try {
      const { code, ms, stderr } = await runToExit(['--config', config, '--port', String(port)]);
      assert.equal(code, 1, stderr);
      assert.match(stderr, /EADDRINUSE/);
      assert.ok(ms < 5000, `exited after ${ms} ms`);
      assertNoChild(pidFile);
    } finally {
      taken.close();
    }
  });

  it('a tool module that does not exist, with a stdio upstream configured: exit code 2 within seconds', {
    timeout: 30_000,
  }, async () => {
    const { config, pidFile } = stdioUpstreamConfig();
    const { code, ms, stderr } = await runToExit([
      '--config',
      config,
      '--port',
      '0',
      '--tools',
      '/nonexistent/tools.js',
    ]);
    assert.equal(code, 2, stderr);
    assert.ok(ms < 5000, `exited after ${ms} ms`);
    assertNoChild(pidFile);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} while a stdio upstream is still starting: a clean stop, child gone`, {
      timeout: 30_000,
    }, async () => {
      const { config, pidFile } = stdioUpstreamConfig(60_000);
      const lookout = await spawnLookout(['--config', config], { OTEL_SDK_DISABLED: 'true' });
      for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 25));
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(alive(pid), 'the upstream is starting');
      const started = Date.now();
      assert.equal(await lookout.stop(signal), 0);
      assert.ok(Date.now() - started < 8000, `stopped after ${Date.now() - started} ms`);
      assertNoChild(pidFile);
    });
  }
});
