/**
 * A built Lookout (`<tree>/dist/cli.js`) started for a load test: on a free loopback port, with the
 * fixture upstream `fx` (test/fixtures/upstream-server.ts over stdio, so its `report_meta` is served as
 * `fx__report_meta`), optionally pinned to a CPU with taskset (the upstream child inherits the pinning).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../test/support/ports.ts';
import { repoDir } from './scenarios.ts';

/** Always the gate's own fixture, so that base and head talk to the very same upstream. */
const upstreamFixture = join(repoDir, 'test/fixtures/upstream-server.ts');

export interface LookoutUnderTest {
  readonly url: string;
  /** SIGTERM (Lookout drains, stopping its upstream), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A directory holding a built Lookout (dist/cli.js) and its node_modules. */
  readonly tree: string;
  /** Where the config file goes. */
  readonly workDir: string;
  readonly name: string;
  readonly cpu?: string;
  readonly readyTimeoutMs?: number;
}

function lookoutConfig(port: number) {
  return {
    host: '127.0.0.1',
    port,
    log: { format: 'json' },
    shutdown: { drainTimeoutSeconds: 10 },
    upstreams: [
      { name: 'fx', transport: 'stdio', command: process.execPath, args: [upstreamFixture], required: true },
    ],
  };
}

export async function startLookoutUnderTest(options: StartOptions): Promise<LookoutUnderTest> {
  const port = await freePort();
  const configPath = join(options.workDir, `${options.name}.lookout.json`);
  writeFileSync(configPath, JSON.stringify(lookoutConfig(port), null, 2));
  const lookoutArgs = [join(options.tree, 'dist/cli.js'), '--config', configPath];
  const [command, args] = options.cpu
    ? ['taskset', ['-c', options.cpu, process.execPath, ...lookoutArgs]]
    : [process.execPath, lookoutArgs];
  // Only PATH and HOME: no OTEL_* or LOOKOUT_* setting of the caller changes what is measured.
  const child: ChildProcess = spawn(command, args, {
    cwd: options.tree,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? options.workDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.push(chunk.toString('utf8'));
    if (stderr.length > 50) stderr.shift();
  });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const ready = `http://127.0.0.1:${port}/health/ready`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(
        `${options.name}: lookout exited (${child.exitCode}) before ready:\n${stderr.join('')}`,
      );
    }
    try {
      const res = await fetch(ready, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      // Ready means the upstream is connected too (it is `required`), so the gateway tool is served.
      if (res.status === 200) return { url: `http://127.0.0.1:${port}/mcp`, stop };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`${options.name}: ${ready} not ready in time:\n${stderr.join('')}`);
}
