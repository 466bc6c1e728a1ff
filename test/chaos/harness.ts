/**
 * What every chaos scenario shares: a real Lookout (in this process, so that its heap can be measured
 * after a forced GC) with real upstream processes, calls that each must end in a result or a named
 * error (a code of the error catalog) within a deadline, and the checks made after each scenario:
 * no file descriptor, child process or memory left behind.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { errorCatalog } from '../../src/errors/catalog.ts';
import type { Lookout, StartOptions } from '../../src/main.ts';
import { type ConfigOverrides, connectClient, startTestLookout } from '../support/lookout.ts';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

export const chaosUpstream = fileURLToPath(new URL('./chaos-upstream.ts', import.meta.url));
export const sdkUpstream = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));
const everything = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);

/**
 * Tolerances of the after-scenario checks. File descriptors: Lookout's own are all closed with it, so
 * the count must come back to where it was, give or take a few (the test's own HTTP client may keep
 * one idle connection a moment longer). Heap: heapUsed after a forced GC may differ by what a
 * scenario leaves in caches that are meant to stay (compiled code, interned strings), far below what
 * one leaked oversized result, log buffer or client per call would add.
 */
export const fdTolerance = 4;
export const heapToleranceBytes = 8 * 1024 * 1024;
/** How long the after-scenario checks wait for closing sockets and exiting children to settle. */
const settleMs = 8000;

const namedCodes = new Set<number>(Object.values(errorCatalog).map((entry) => entry.rpc));

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function fdCount(pid = process.pid): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly state: string;
}

function processes(): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name, in parentheses, may hold spaces: the fields follow its last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.push({
        pid: Number(entry),
        state: fields[0] as string,
        ppid: Number(fields[1]),
        pgid: Number(fields[2]),
      });
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Every process below `root` (children, theirs, …), zombies included. */
export function descendants(root = process.pid): number[] {
  const all = processes();
  const below = new Set<number>([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!below.has(p.pid) && below.has(p.ppid)) {
        below.add(p.pid);
        grew = true;
      }
    }
  }
  below.delete(root);
  return [...below];
}

/** Processes still alive in the process groups of these pids (each stdio child leads a group of its own). */
function inGroups(pids: number[]): number[] {
  const groups = new Set(pids);
  return processes()
    .filter((p) => groups.has(p.pgid) || groups.has(p.pid))
    .map((p) => p.pid);
}

/** Whether `pid` runs (a zombie, exited but not yet reaped, does not). */
export function processAlive(pid: number): boolean {
  return processes().some((p) => p.pid === pid && p.state !== 'Z');
}

export function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** How a call ended: `ok`, `tool-error`, the JSON-RPC code of a named error, or what breaks the rule. */
export type Outcome = 'ok' | 'tool-error' | `${number}` | `unnamed: ${string}` | 'deadline missed';

/** Tallies the calls of a scenario: each one ends in a result or a named error within its deadline. */
export class Calls {
  readonly outcomes: Outcome[] = [];
  readonly #pending = new Set<Promise<Outcome>>();

  /** Calls `name` through `client`; the outcome is recorded and returned (never rejects). */
  call(
    client: Client,
    name: string,
    args: Record<string, unknown>,
    deadlineMs: number,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve('deadline missed'), deadlineMs);
    });
    // The SDK client's own timeout stays out of the way: the deadline is what is checked.
    const request = client
      .callTool({ name, arguments: args }, undefined, {
        timeout: deadlineMs + 60_000,
        ...(signal && { signal }),
      })
      .then(
        (result): Outcome => (result.isError === true ? 'tool-error' : 'ok'),
        (error: unknown): Outcome =>
          error instanceof McpError && namedCodes.has(error.code)
            ? `${error.code}`
            : `unnamed: ${(error as Error).message}`,
      );
    const outcome = Promise.race([request, deadline]).then((o) => {
      clearTimeout(timer);
      this.outcomes.push(o);
      this.#pending.delete(outcome);
      return o;
    });
    this.#pending.add(outcome);
    return outcome;
  }

  async settled(): Promise<void> {
    await Promise.all(this.#pending);
  }

  count(outcome: Outcome): number {
    return this.outcomes.filter((o) => o === outcome).length;
  }

  /** Outcomes by kind, e.g. `{ ok: 97, "-32002": 3 }`. */
  tally(): Record<string, number> {
    const tally: Record<string, number> = {};
    for (const o of this.outcomes) tally[o] = (tally[o] ?? 0) + 1;
    return tally;
  }

  assertAllNamed(): void {
    const broken = this.outcomes.filter((o) => o === 'deadline missed' || o.startsWith('unnamed'));
    assert.deepEqual(
      broken,
      [],
      `every call ends in a result or a named error in time: ${JSON.stringify(this.tally())}`,
    );
  }
}

/** Runs `check` until it holds or `ms` pass; returns whether it held. */
export async function eventually(check: () => boolean, ms: number, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}

export type ChaosLookout = Lookout & { logLines: string[] };

/** One scenario's resources, all released (and checked) when it ends. */
export class Scenario {
  readonly calls = new Calls();
  /** Children of the upstreams write their pids here. */
  readonly pidDir = mkdtempSync(join(tmpdir(), 'lookout-chaos-'));
  readonly figures: Record<string, unknown> = {};
  readonly #clients: Client[] = [];
  readonly #lookouts: ChaosLookout[] = [];
  readonly #processes: ChildProcess[] = [];
  readonly #cleanups: (() => unknown)[] = [];

  /** A chaos-upstream stdio entry; `env` adds to the fixture's environment. */
  stdioUpstream(name: string, env: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
    return {
      name,
      transport: 'stdio',
      command: process.execPath,
      args: [chaosUpstream],
      env: { CHAOS_PID_DIR: this.pidDir, ...env },
      ...extra,
    };
  }

  /** A Lookout whose upstreams are isolated as configured (by default, per session or subject). */
  async lookout(overrides: ConfigOverrides, options: StartOptions = {}): Promise<ChaosLookout> {
    const lookout = await startTestLookout(overrides, options);
    this.#lookouts.push(lookout);
    return lookout;
  }

  async client(url: string): Promise<Client> {
    const client = await connectClient(url, 'chaos');
    this.#clients.push(client);
    return client;
  }

  /** The SDK-based fixture over Streamable HTTP on `port`; resolves once it listens. */
  httpUpstream(port: number, json = false): Promise<ChildProcess> {
    return this.#listening(
      spawn(process.execPath, [sdkUpstream, '--http', String(port), ...(json ? ['--json'] : [])], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
  }

  /** `@modelcontextprotocol/server-everything` over Streamable HTTP on `port`. */
  everythingHttp(port: number): Promise<ChildProcess> {
    return this.#listening(
      spawn(process.execPath, [everything, 'streamableHttp'], {
        env: { ...process.env, PORT: String(port) },
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
  }

  async #listening(child: ChildProcess): Promise<ChildProcess> {
    this.#processes.push(child);
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('listening')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`http upstream exited (${code}): ${stderr}`)));
    });
    child.removeAllListeners('exit');
    return child;
  }

  onCleanup(cleanup: () => unknown): void {
    this.#cleanups.push(cleanup);
  }

  /** Pids of every chaos-upstream child started in this scenario, in the order they started. */
  upstreamPids(): number[] {
    return readdirSync(this.pidDir)
      .map((name) => ({ pid: Number(name), started: statSync(join(this.pidDir, name)).mtimeMs }))
      .sort((a, b) => a.started - b.started)
      .map((p) => p.pid);
  }

  async close(): Promise<void> {
    for (const client of this.#clients) await client.close().catch(() => undefined);
    for (const lookout of this.#lookouts) await lookout.close();
    for (const cleanup of this.#cleanups) await cleanup();
    for (const child of this.#processes) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
  }
}

/**
 * Runs one scenario and then the checks every scenario gets. Figures (calls by outcome, fds, children,
 * heap) go to the test's diagnostics.
 */
export async function chaos(t: TestContext, body: (s: Scenario) => Promise<void>): Promise<void> {
  const fdsBefore = fdCount();
  const heapBefore = heapAfterGc();
  const childrenBefore = descendants();
  const s = new Scenario();
  try {
    await body(s);
    await s.calls.settled();
  } finally {
    await s.close();
  }
  const children = () => descendants().filter((pid) => !childrenBefore.includes(pid));
  const upstreamPids = s.upstreamPids();
  rmSync(s.pidDir, { recursive: true, force: true });
  const leftInGroups = () => inGroups(upstreamPids);
  await eventually(() => children().length === 0 && leftInGroups().length === 0, settleMs);
  await eventually(() => fdCount() <= fdsBefore + fdTolerance, settleMs);
  const fdsAfter = fdCount();
  const heapAfter = heapAfterGc();
  const figures = {
    calls: s.calls.outcomes.length,
    outcomes: s.calls.tally(),
    lookoutChildren: upstreamPids.length,
    fds: `${fdsBefore} -> ${fdsAfter}`,
    childrenLeft: children().length,
    heapMiB: `${(heapBefore / 2 ** 20).toFixed(1)} -> ${(heapAfter / 2 ** 20).toFixed(1)}`,
    ...s.figures,
  };
  t.diagnostic(`figures ${JSON.stringify(figures)}`);
  s.calls.assertAllNamed();
  assert.deepEqual(children(), [], 'no child process left');
  assert.deepEqual(leftInGroups(), [], "nothing left in the upstreams' process groups");
  assert.ok(fdsAfter <= fdsBefore + fdTolerance, `file descriptors ${fdsBefore} -> ${fdsAfter}`);
  assert.ok(
    heapAfter - heapBefore < heapToleranceBytes,
    `heap after GC ${heapBefore} -> ${heapAfter} (tolerance ${heapToleranceBytes})`,
  );
}

/** Waits until the named upstream reports `detail` in /health/ready's checks. */
export function upstreamState(lookout: Lookout, name: string): string | undefined {
  return lookout.health.ready().checks[`upstream:${name}`]?.detail;
}

export async function waitForState(lookout: Lookout, name: string, state: string, ms: number): Promise<void> {
  const reached = await eventually(() => upstreamState(lookout, name) === state, ms);
  assert.ok(reached, `${name} reached ${state} within ${ms} ms (is ${upstreamState(lookout, name)})`);
}

/** The names of the tools a client sees. */
export async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((t) => t.name);
}
