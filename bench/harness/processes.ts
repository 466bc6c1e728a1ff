import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** A process the bench starts, pinned to one CPU with taskset. */
export interface Pinned {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last lines it wrote on stderr, for error messages. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Only what a child needs from the bench's environment, so no stray OTEL_* setting leaks in. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

export interface SpawnOptions {
  readonly cpu: string;
  readonly cwd: string;
  readonly env?: Record<string, string>;
  /** Called with each complete stdout line (stdout is discarded when absent). */
  readonly onStdoutLine?: (line: string) => void;
  /** Called with each complete stderr line, besides keeping a tail for errors. */
  readonly onStderrLine?: (line: string) => void;
}

function splitLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let partial = '';
  stream?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) onLine(line);
  });
}

export function spawnPinned(command: string, args: string[], options: SpawnOptions): Pinned {
  // taskset execs the command, so the child's pid is the command's own (its /proc entry is read for RSS).
  const child = spawn('taskset', ['-c', options.cpu, command, ...args], {
    cwd: options.cwd,
    env: { ...baseEnv(), ...options.env },
    stdio: ['ignore', options.onStdoutLine ? 'pipe' : 'ignore', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const tail: string[] = [];
  splitLines(child.stderr, (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    options.onStderrLine?.(line);
  });
  if (options.onStdoutLine) splitLines(child.stdout, options.onStdoutLine);
  const exited = once(child, 'exit');
  return {
    child,
    pid: child.pid,
    stderrTail: () => tail.join('\n'),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Memory in MB (10^6 bytes), the unit of the targets. */
export interface Memory {
  /** Resident set size now. */
  readonly rssMb: number;
  /** Peak resident set size since start. */
  readonly peakMb: number;
}

/** RSS and peak RSS of a live process, in MB, from /proc/<pid>/status. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: (kib('VmRSS') * 1024) / 1e6, peakMb: (kib('VmHWM') * 1024) / 1e6 };
}

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) a live process has used so far, in seconds, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `url` until `accept(status)` holds; resolves with the milliseconds since `since`.
 * Fails when the process exits or `timeoutMs` passes.
 */
export async function waitFor(
  url: string,
  accept: (status: number) => boolean,
  process: Pinned,
  since: number,
  timeoutMs = 30_000,
  pollMs = 5,
): Promise<number> {
  while (performance.now() - since < timeoutMs) {
    if (process.child.exitCode !== null)
      throw new Error(`exited with ${process.child.exitCode} before ready:\n${process.stderrTail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (accept(res.status)) return performance.now() - since;
    } catch {
      // not listening yet
    }
    await sleep(pollMs);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${process.stderrTail()}`);
}

/** Time one CPU has spent so far, in seconds: busy (steal included) and idle (iowait included). */
export interface CpuTimes {
  readonly busy: number;
  readonly idle: number;
}

/** One CPU's times from /proc/stat; NaN when `cpu` is not a single CPU number. */
export function cpuTimesOf(cpu: string): CpuTimes {
  const line = /^\d+$/.test(cpu)
    ? readFileSync('/proc/stat', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`cpu${cpu} `))
    : undefined;
  if (!line) return { busy: Number.NaN, idle: Number.NaN };
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    busy: (user + nice + system + irq + softirq + steal) / clockTicksPerSecond,
    idle: (idle + iowait) / clockTicksPerSecond,
  };
}
