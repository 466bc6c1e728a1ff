import type { LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';

export type LogParams = LoggingMessageNotification['params'];

/** Passes an upstream's log messages to whoever is listening: the calls to it in flight. */
export class LogRelay {
  readonly #listeners = new Set<(params: LogParams) => void>();

  /** Listens while `work` runs. */
  async during<T>(listener: ((params: LogParams) => void) | undefined, work: () => Promise<T>): Promise<T> {
    if (!listener) return work();
    this.#listeners.add(listener);
    try {
      return await work();
    } finally {
      this.#listeners.delete(listener);
    }
  }

  /** Says whether any call in flight took it. */
  relay(params: LogParams): boolean {
    for (const listener of this.#listeners) listener(params);
    return this.#listeners.size > 0;
  }
}
