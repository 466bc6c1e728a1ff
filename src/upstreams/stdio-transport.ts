import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { jsonRpcMessage } from './jsonrpc-envelope.ts';
import { MessageLines } from './message-lines.ts';
import type { OversizedMessage } from './oversized.ts';
import { StderrTail } from './stderr-tail.ts';

/** Between closing a child's stdin, `SIGTERM` and `SIGKILL` (the SDK's stdio transport waits as long). */
const stopStepMs = 2000;

export interface StdioChild {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** The longest message read from its stdout. */
  readonly maxMessageBytes: number;
  readonly onStderrLine: (line: string) => void;
  /** A message over the limit was dropped; the transport delivers an error response in its place. */
  readonly onOversized: (message: OversizedMessage) => JSONRPCMessage | undefined;
}

/**
 * MCP over a child process's stdin and stdout (newline-delimited JSON-RPC). Unlike the SDK's stdio
 * transport it takes the environment it is given as it is, keeps the child's last stderr lines, turns a
 * message over the size limit into an error for that request alone instead of closing the connection,
 * and runs the child in a process group of its own, so that stopping it stops what it started too
 * (`npx` runs the server as its own child).
 */
export class UpstreamStdioTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onerror?: Transport['onerror'];
  onclose?: Transport['onclose'];

  readonly stderr = new StderrTail();
  readonly #options: StdioChild;
  #child: ChildProcess | undefined;
  #exited: Promise<unknown> | undefined;
  #stopAsked = false;
  #exitedByItself = false;

  constructor(options: StdioChild) {
    this.#options = options;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The child ended (or closed its stdout) without being told to stop. */
  get exitedByItself(): boolean {
    return this.#exitedByItself;
  }

  async start(): Promise<void> {
    if (this.#child) throw new Error('the upstream stdio transport is already started');
    const options = this.#options;
    const child = spawn(options.command, [...options.args], {
      env: options.env,
      ...(options.cwd !== undefined && { cwd: options.cwd }),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    this.#child = child;
    this.#exited = once(child, 'close').catch(() => undefined);
    const lines = new MessageLines(
      options.maxMessageBytes,
      (line) => this.#deliver(line),
      (oversized) => {
        const standIn = options.onOversized(oversized);
        if (standIn) this.onmessage?.(standIn);
      },
    );
    child.stdout?.on('data', (chunk: Buffer) => lines.push(chunk));
    // A child whose stdout is closed can answer nothing more, whether it exits or not: it is stopped,
    // so that the connection counts as lost at once rather than after the health probe's grace period.
    child.stdout?.on('end', () => {
      if (this.#child === child) void this.#stop();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => this.stderr.push(chunk, options.onStderrLine));
    child.stdin?.on('error', (error) => this.onerror?.(error));
    child.on('close', () => {
      if (this.#child === child) this.#child = undefined;
      this.#exitedByItself = !this.#stopAsked;
      this.onclose?.();
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => {
        reject(error);
        this.onerror?.(error);
      });
    });
  }

  #deliver(line: string): void {
    let message: JSONRPCMessage;
    try {
      message = jsonRpcMessage(JSON.parse(line));
    } catch {
      this.onerror?.(new Error(`not a JSON-RPC message on stdout: ${line.slice(0, 200)}`));
      return;
    }
    this.onmessage?.(message);
  }

  /** Lookout asked it to close: what fails from then on is the close, not the upstream. */
  get closing(): boolean {
    return this.#stopAsked;
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin;
    // Once stdin is ended (the close has begun), a write would fail with 'write after end'.
    if (!stdin || stdin.destroyed || stdin.writableEnded) return Promise.reject(new Error('Not connected'));
    return new Promise((resolve) => {
      if (stdin.write(`${JSON.stringify(message)}\n`)) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /** Closes stdin, then signals the child's process group: `SIGTERM`, then `SIGKILL`. */
  close(): Promise<void> {
    this.#stopAsked = true;
    return this.#stop();
  }

  async #stop(): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited) return;
    const wait = () =>
      Promise.race([exited, new Promise((resolve) => setTimeout(resolve, stopStepMs).unref())]);
    child.stdin?.end();
    await wait();
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      signalGroup(child, signal);
      if (signal === 'SIGTERM') await wait();
    }
    // The child is gone; what it started may not be.
    signalGroup(child, 'SIGKILL');
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === 'win32') child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}
