/**
 * A built Lookout (`<tree>/dist/cli.js`) started for a load test: on a free loopback port, with the
 * fixture upstream (test/fixtures/upstream-server.ts) twice, as `fx` over stdio and as `fxh` over
 * Streamable HTTP (so its `report_meta` is served as `fx__report_meta` and `fxh__report_meta`),
 * optionally pinned to a CPU with taskset: the stdio child inherits the pinning, the HTTP one gets it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../support/ports.ts';
import { repoDir } from './scenarios.ts';

/** Always the gate's own fixture, so that base and head talk to the very same upstream. */
const upstreamFixture = join(repoDir, 'test/fixtures/upstream-server.ts');

export interface LookoutUnderTest {
  readonly url: string;
  /** SIGTERM (Lookout drains, stopping its stdio upstream), then the HTTP upstream; SIGKILL after 15 s. */
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

function lookoutConfig(port: number, httpUpstreamPort: number) {
  return {
    host: '127.0.0.1',
    port,
    log: { format: 'json' },
    shutdown: { drainTimeoutSeconds: 10 },
    // The fixture keeps no state per client, so its connection is shared (as a config would declare a
    // stateless server): the gate measures the hop, not a process or session start per k6 VU.
    upstreams: [
      {
        name: 'fx',
        transport: 'stdio',
        command: process.execPath,
        args: [upstreamFixture],
        isolation: 'shared',
        required: true,
      },
      {
        name: 'fxh',
        transport: 'http',
        url: `http://127.0.0.1:${httpUpstreamPort}/mcp`,
        isolation: 'shared',
        required: true,
      },
    ],
  };
}

interface Started {
  readonly child: ChildProcess;
  /** The last lines it wrote to stderr. */
  readonly stderr: () => string;
  /** SIGTERM, SIGKILL after 15 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Node with these arguments, pinned to `cpu` when given, with only PATH and HOME from the caller. */
function startNode(args: readonly string[], cwd: string, cpu: string | undefined): Started {
  const [command, commandArgs] = cpu
    ? ['taskset', ['-c', cpu, process.execPath, ...args]]
    : [process.execPath, [...args]];
  // Only PATH and HOME: no OTEL_* or LOOKOUT_* setting of the caller changes what is measured.
  const child: ChildProcess = spawn(command, commandArgs, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    lines.push(chunk.toString('utf8'));
    if (lines.length > 50) lines.shift();
  });
  const exited = once(child, 'exit');
  return {
    child,
    stderr: () => lines.join(''),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The fixture upstream over Streamable HTTP on a free port, once it listens. */
async function startHttpUpstream(options: StartOptions): Promise<{ port: number; upstream: Started }> {
  const port = await freePort();
  const upstream = startNode([upstreamFixture, '--http', String(port)], options.workDir, options.cpu);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (!upstream.stderr().includes('listening')) {
    if (upstream.child.exitCode !== null || Date.now() > deadline) {
      await upstream.stop();
      throw new Error(`${options.name}: the HTTP fixture upstream did not start:\n${upstream.stderr()}`);
    }
    await sleep(50);
  }
  return { port, upstream };
}

export async function startLookoutUnderTest(options: StartOptions): Promise<LookoutUnderTest> {
  const { port: httpUpstreamPort, upstream } = await startHttpUpstream(options);
  const port = await freePort();
  const configPath = join(options.workDir, `${options.name}.lookout.json`);
  writeFileSync(configPath, JSON.stringify(lookoutConfig(port, httpUpstreamPort), null, 2));
  const lookout = startNode(
    [join(options.tree, 'dist/cli.js'), '--config', configPath],
    options.tree,
    options.cpu,
  );
  const stop = async () => {
    await lookout.stop();
    await upstream.stop();
  };

  const ready = `http://127.0.0.1:${port}/health/ready`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (lookout.child.exitCode !== null) {
      await stop();
      throw new Error(
        `${options.name}: lookout exited (${lookout.child.exitCode}) before ready:\n${lookout.stderr()}`,
      );
    }
    try {
      const res = await fetch(ready, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      // Ready means the upstreams are connected too (they are `required`), so the gateway tools are served.
      if (res.status === 200) return { url: `http://127.0.0.1:${port}/mcp`, stop };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`${options.name}: ${ready} not ready in time:\n${lookout.stderr()}`);
}
