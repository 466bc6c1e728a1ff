import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** A real ecosystem binary (collector, Jaeger, Prometheus, …) run by a test, with its output kept. */
export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** stdout and stderr, interleaved, for the failure message. */
  readonly output: string[];
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Polls `probe` until it returns a value, failing after `timeoutMs` with the last error seen. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Starts a binary and resolves once `readyUrl` answers 2xx; the process is killed if it never does. */
export async function startService(
  name: string,
  command: string,
  args: string[],
  options: { env?: Record<string, string>; readyUrl: string; timeoutMs?: number },
): Promise<Service> {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 2000) output.splice(0, 1000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = once(child, 'exit');
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const service: Service = {
    name,
    child,
    output,
    async stop() {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitFor(
      `${name} at ${options.readyUrl}`,
      async () => {
        if (hasExited) throw new Error(`${name} exited: ${output.join('').slice(-2000)}`);
        const res = await fetch(options.readyUrl);
        await res.arrayBuffer();
        return res.ok ? true : undefined;
      },
      { timeoutMs: options.timeoutMs ?? 30_000 },
    );
  } catch (error) {
    await service.stop();
    throw new Error(`${String(error)}\n--- ${name} output ---\n${output.join('').slice(-3000)}`);
  }
  return service;
}
