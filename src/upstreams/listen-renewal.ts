import type { Client } from '@modelcontextprotocol/client';

/** How soon a listen stream the upstream ended is opened again, doubling while that fails. */
const pause = { firstMs: 250, maxMs: 10_000 };

/**
 * Opens a connection's listen stream again once the upstream ended it (it restarted, or dropped the
 * stream), after a pause that doubles while opening fails; not once the connection is closed.
 */
export class ListenRenewal {
  readonly #client: Client;
  readonly #open: () => Promise<void>;
  #pauseMs = pause.firstMs;
  #timer: NodeJS.Timeout | undefined;

  constructor(client: Client, open: () => Promise<void>) {
    this.#client = client;
    this.#open = open;
  }

  /** The stream is open: a later renewal starts with the short pause again. */
  opened(): void {
    this.#pauseMs = pause.firstMs;
  }

  cancel(): void {
    clearTimeout(this.#timer);
  }

  /** Opens the stream again after the pause, if `stillNeeded` then and the connection is still open. */
  schedule(stillNeeded: () => boolean): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (this.#client.transport === undefined || !stillNeeded()) return;
      this.#open().catch(() => {
        this.#pauseMs = Math.min(this.#pauseMs * 2, pause.maxMs);
        this.schedule(stillNeeded);
      });
    }, this.#pauseMs);
    this.#timer.unref();
  }
}
