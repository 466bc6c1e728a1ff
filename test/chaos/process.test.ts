import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectClient } from '../support/lookout.ts';
import { spawnLookout } from '../support/process.ts';
import { Calls, chaosUpstream, descendants, eventually, fdCount, sleep } from './harness.ts';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** A config file of chaos-upstream stdio upstreams (name → extra environment); children write their pids into `pidDir`. */
function configFile(upstreams: Record<string, Record<string, string>>): { config: string; pidDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-chaos-proc-'));
  const pidDir = join(dir, 'pids');
  const config = join(dir, 'lookout.json');
  mkdirSync(pidDir);
  writeFileSync(
    config,
    JSON.stringify({
      upstreams: Object.entries(upstreams).map(([name, env]) => ({
        name,
        transport: 'stdio',
        command: process.execPath,
        args: [chaosUpstream],
        env: { CHAOS_PID_DIR: pidDir, ...env },
        restart: { initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.2, maxRestarts: 50 },
      })),
    }),
  );
  return { config, pidDir };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

/** The real process's RSS may differ by what its heap settles at, far below what a leak per call adds. */
const rssToleranceBytes = 48 * 1024 * 1024;

describe('chaos: a real lookout process', () => {
  it('a port conflict at start, with stdio upstreams configured (one slow, one ignoring SIGTERM): exit 1, no child', {
    timeout: 60_000,
  }, async (t) => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    const { config, pidDir } = configFile({
      a: {},
      slow: { CHAOS_START_DELAY_MS: '30000' },
      stubborn: { CHAOS_IGNORE_SIGTERM: '1' },
    });
    try {
      const started = Date.now();
      const child = spawn(
        process.execPath,
        [cli, '--log-format', 'json', '--config', config, '--port', String(port)],
        {
          env: { PATH: process.env.PATH ?? '', OTEL_SDK_DISABLED: 'true' },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(killer);
      const ms = Date.now() - started;
      const pids = readdirSync(pidDir).map(Number);
      const left = await eventually(() => pids.every((pid) => !alive(pid)), 5000);
      t.diagnostic(
        `figures ${JSON.stringify({ exitCode: code, exitMs: ms, childrenStarted: pids.length, childrenLeft: pids.filter(alive).length })}`,
      );
      assert.equal(code, 1, stderr);
      assert.match(stderr, /EADDRINUSE/);
      assert.ok(ms < 15_000, `exited after ${ms} ms`);
      assert.ok(left, `children left: ${pids.filter(alive).join()}`);
    } finally {
      taken.close();
      rmSync(join(pidDir, '..'), { recursive: true, force: true });
    }
  });

  it('crashes mid-call in waves under load: fds and RSS of the process stay flat; SIGTERM stops it clean', {
    timeout: 120_000,
  }, async (t) => {
    const names = ['p0', 'p1', 'p2', 'p3'];
    const { config, pidDir } = configFile(Object.fromEntries(names.map((n) => [n, {}])));
    const lookout = await spawnLookout(
      ['--config', config],
      { OTEL_SDK_DISABLED: 'true' },
      { killAfterMs: 110_000 },
    );
    const pid = lookout.child.pid as number;
    const calls = new Calls();
    try {
      const client = await connectClient(lookout.url, 'chaos');
      const ready = async () =>
        eventually(() => readdirSync(pidDir).length >= 4 && descendants(pid).length === 4, 15_000);
      assert.ok(await ready(), 'four upstream children');
      for (
        let i = 0;
        i < 200 && (await client.listTools()).tools.filter((x) => x.name.endsWith('__echo')).length < 4;
        i++
      )
        await sleep(50);
      const wave = async (crash: boolean) => {
        const inFlight = names.flatMap((n) => [
          calls.call(client, `${n}__sleep`, { ms: 300 }, 10_000),
          ...Array.from({ length: 10 }, (_, i) =>
            calls.call(client, `${n}__echo`, { text: `e${i}` }, 10_000),
          ),
        ]);
        if (crash) {
          await sleep(50);
          await Promise.all(names.slice(0, 2).map((n) => calls.call(client, `${n}__crash`, {}, 10_000)));
        }
        await Promise.all(inFlight);
        for (let i = 0; i < 100; i++) {
          const outcomes = await Promise.all(
            names.map((n) => calls.call(client, `${n}__echo`, { text: 'probe' }, 10_000)),
          );
          if (outcomes.every((o) => o === 'ok')) break;
          await sleep(50);
        }
        // Back to eight children before the next wave: each upstream's catalog child and the
        // session's own (isolation), a crashed one replaced by the call after it.
        await eventually(() => descendants(pid).length === 8, 10_000);
      };
      await wave(false);
      await wave(true);
      await sleep(500);
      const fdsBefore = fdCount(pid);
      const rssBefore = rssBytes(pid);
      for (let i = 0; i < 6; i++) await wave(true);
      await sleep(1000);
      const fdsAfter = fdCount(pid);
      const rssAfter = rssBytes(pid);
      await client.close();
      const started = Date.now();
      const code = await lookout.stop('SIGTERM');
      const stopMs = Date.now() - started;
      const pids = readdirSync(pidDir).map(Number);
      const gone = await eventually(() => pids.every((p) => !alive(p)), 5000);
      const figures = {
        calls: calls.outcomes.length,
        outcomes: calls.tally(),
        lookoutChildren: pids.length,
        fds: `${fdsBefore} -> ${fdsAfter}`,
        rssMiB: `${(rssBefore / 2 ** 20).toFixed(1)} -> ${(rssAfter / 2 ** 20).toFixed(1)}`,
        exitCode: code,
        stopMs,
        childrenLeft: pids.filter(alive).length,
      };
      t.diagnostic(`figures ${JSON.stringify(figures)}`);
      calls.assertAllNamed();
      assert.equal(code, 0);
      assert.ok(gone, 'no upstream child left');
      assert.ok(fdsAfter <= fdsBefore + 4, `lookout's fds ${fdsBefore} -> ${fdsAfter}`);
      assert.ok(rssAfter - rssBefore < rssToleranceBytes, `lookout's RSS ${rssBefore} -> ${rssAfter}`);
      assert.equal(pids.length, 4 + 4 + 7 * 2, 'each crash replaced its child once');
    } finally {
      if (lookout.child.exitCode === null) lookout.child.kill('SIGKILL');
      rmSync(join(pidDir, '..'), { recursive: true, force: true });
    }
  });
});
