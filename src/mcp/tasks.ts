import { randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { LookoutError } from '../errors/catalog.ts';
import type { InputRequest } from '../tools/api.ts';
import { capabilityFor } from './input.ts';

/** The tasks extension's name, under `capabilities.extensions` on both sides. */
export const tasksExtension = 'io.modelcontextprotocol/tasks';

type Status = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

interface PendingInput {
  readonly request: InputRequest;
  readonly resolve: (value: unknown) => void;
}

interface Task {
  readonly id: string;
  /** Who created it: only they may read, answer or cancel it. */
  readonly owner: string;
  readonly createdAt: string;
  readonly controller: AbortController;
  status: Status;
  lastUpdatedAt: string;
  result?: CallToolResult;
  error?: { code: number; message: string; data?: unknown };
  readonly pending: Map<string, PendingInput>;
  expiry: NodeJS.Timeout | undefined;
}

const terminal = new Set<Status>(['completed', 'failed', 'cancelled']);

/** What a task's handler may ask of the client, and how it learns it was cancelled. */
export interface TaskHandle {
  readonly signal: AbortSignal;
  request<T extends z.ZodType>(
    request: InputRequest,
    schema: T,
    key: string | undefined,
  ): Promise<z.output<T>>;
}

/**
 * Tasks of the `io.modelcontextprotocol/tasks` extension (2026-07-28), kept in this process's memory:
 * a long-running tool's call answers at once with a task the client polls with `tasks/get`. A
 * handler's questions park the task as `input_required` until `tasks/update` answers them.
 */
export class TaskStore {
  readonly #tasks = new Map<string, Task>();
  readonly #ttlMs: number;
  readonly #pollIntervalMs: number;
  readonly #max: number;

  constructor(options: { ttlMs: number; pollIntervalMs: number; max: number }) {
    this.#ttlMs = options.ttlMs;
    this.#pollIntervalMs = options.pollIntervalMs;
    this.#max = options.max;
  }

  /** Starts `run` in the background and returns the CreateTaskResult; the task exists before it returns. */
  create(
    owner: string,
    capabilities: Record<string, unknown>,
    run: (handle: TaskHandle) => Promise<CallToolResult>,
  ): Record<string, unknown> {
    if (this.#tasks.size >= this.#max) throw new LookoutError('OVERLOADED', 'too many tasks');
    const now = new Date().toISOString();
    const task: Task = {
      id: randomUUID(),
      owner,
      createdAt: now,
      lastUpdatedAt: now,
      controller: new AbortController(),
      status: 'working',
      pending: new Map(),
      expiry: undefined,
    };
    this.#tasks.set(task.id, task);
    // A task nobody finishes (a question never answered) is cancelled when its time is up.
    task.expiry = setTimeout(() => this.cancel(task.id, owner), this.#ttlMs);
    task.expiry.unref();
    let count = 0;
    const handle: TaskHandle = {
      signal: task.controller.signal,
      request: (request, schema, key) => {
        const capability = capabilityFor[request.method];
        if (capability !== undefined && !(capability in capabilities)) {
          return Promise.reject(
            new LookoutError('MISSING_CLIENT_CAPABILITY', capability, {
              requiredCapabilities: { [capability]: {} },
            }),
          );
        }
        const name = key ?? `input-${++count}`;
        return new Promise((resolve, reject) => {
          task.pending.set(name, {
            request: { method: request.method, params: request.params ?? {} },
            resolve: (value) => {
              const parsed = schema.safeParse(value);
              if (parsed.success) resolve(parsed.data);
              else
                reject(
                  new LookoutError(
                    'INVALID_PARAMS',
                    `inputResponses.${name} is not a valid ${request.method} result`,
                  ),
                );
            },
          });
          this.#touch(task, 'input_required');
        });
      },
    };
    run(handle).then(
      (result) => this.#settle(task, { result }),
      (error: unknown) => this.#settle(task, { error }),
    );
    return { resultType: 'task', ...this.#envelope(task) };
  }

  /** tasks/get: the task, with its result or error once terminal, or the questions it waits on. */
  get(id: string, owner: string): Record<string, unknown> {
    const task = this.#find(id, owner);
    return {
      ...this.#envelope(task),
      ...(task.status === 'input_required' && {
        inputRequests: Object.fromEntries([...task.pending].map(([key, p]) => [key, p.request])),
      }),
      ...(task.result !== undefined && { result: task.result }),
      ...(task.error !== undefined && { error: task.error }),
    };
  }

  /** tasks/update: answers some or all of the open questions; unknown keys are ignored. */
  update(id: string, owner: string, responses: Record<string, unknown>): Record<string, unknown> {
    const task = this.#find(id, owner);
    for (const [key, value] of Object.entries(responses)) {
      const pending = task.pending.get(key);
      if (!pending) continue;
      task.pending.delete(key);
      pending.resolve(value);
    }
    if (task.status === 'input_required' && task.pending.size === 0) this.#touch(task, 'working');
    return {};
  }

  /** tasks/cancel: aborts a running task; on a finished one it changes nothing. */
  cancel(id: string, owner: string): Record<string, unknown> {
    const task = this.#find(id, owner);
    if (!terminal.has(task.status)) {
      task.controller.abort(new Error('task cancelled'));
      task.pending.clear();
      this.#touch(task, 'cancelled');
      this.#expireLater(task);
    }
    return {};
  }

  /** Forgets a task its client never heard of (the call ended otherwise): aborted, not kept. */
  discard(id: string): void {
    const task = this.#tasks.get(id);
    if (!task) return;
    clearTimeout(task.expiry);
    task.controller.abort(new Error('task not started'));
    this.#tasks.delete(id);
  }

  close(): void {
    for (const task of this.#tasks.values()) {
      clearTimeout(task.expiry);
      task.controller.abort(new Error('server closing'));
    }
    this.#tasks.clear();
  }

  #find(id: string, owner: string): Task {
    const task = this.#tasks.get(id);
    if (!task || task.owner !== owner) throw new LookoutError('INVALID_PARAMS', `unknown task ${id}`);
    return task;
  }

  #envelope(task: Task) {
    return {
      taskId: task.id,
      status: task.status,
      createdAt: task.createdAt,
      lastUpdatedAt: task.lastUpdatedAt,
      ttlMs: this.#ttlMs,
      pollIntervalMs: this.#pollIntervalMs,
    };
  }

  #touch(task: Task, status: Status): void {
    task.status = status;
    task.lastUpdatedAt = new Date().toISOString();
  }

  /** A tool error is a completed task with `isError`; anything thrown past the tool is a failed one. */
  #settle(task: Task, outcome: { result?: CallToolResult; error?: unknown }): void {
    if (terminal.has(task.status)) return;
    if (outcome.result !== undefined) {
      task.result = outcome.result;
      this.#touch(task, 'completed');
    } else {
      const error = outcome.error;
      task.error =
        error instanceof LookoutError
          ? {
              code: error.code,
              message: error.message,
              ...(error.data !== undefined && { data: error.data }),
            }
          : { code: -32603, message: 'Internal error' };
      this.#touch(task, 'failed');
    }
    this.#expireLater(task);
  }

  /** A finished task stays readable for its ttlMs, then goes. */
  #expireLater(task: Task): void {
    clearTimeout(task.expiry);
    task.expiry = setTimeout(() => this.#tasks.delete(task.id), this.#ttlMs);
    task.expiry.unref();
  }
}
