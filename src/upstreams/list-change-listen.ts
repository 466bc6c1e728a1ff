import type { Client } from '@modelcontextprotocol/client';
import { ListenRenewal } from './listen-renewal.ts';

type Listening = Awaited<ReturnType<Client['listen']>>;
type Filter = Parameters<Client['listen']>[0];

/** The list changes the upstream announces (`listChanged`), as a `subscriptions/listen` filter. */
export function listChangeFilter(client: Client): Filter {
  const advertised = client.getServerCapabilities();
  return {
    ...(advertised?.tools?.listChanged && { toolsListChanged: true }),
    ...(advertised?.prompts?.listChanged && { promptsListChanged: true }),
    ...(advertised?.resources?.listChanged && { resourcesListChanged: true }),
  };
}

/**
 * A 2026-07-28 upstream's list changes, heard on the listen stream the connection opened. A stream
 * the upstream ends (it restarted, or dropped it) is opened again while the connection lasts, and the
 * lists are then fetched again: whatever changed meanwhile was told to nobody.
 */
export class ListChangeListen {
  readonly #client: Client;
  readonly #filter: Filter;
  readonly #timeoutMs: number;
  readonly #missed: () => void;
  readonly #renewal: ListenRenewal;
  #current: Listening | undefined;

  constructor(client: Client, options: { timeoutMs: number; missed: () => void }) {
    this.#client = client;
    this.#filter = listChangeFilter(client);
    this.#timeoutMs = options.timeoutMs;
    this.#missed = options.missed;
    this.#renewal = new ListenRenewal(client, () => this.#reopen());
  }

  /** Opens the stream, as a connection made on a kept 2026-07-28 verdict opens none by itself. */
  async open(): Promise<void> {
    if (Object.keys(this.#filter).length === 0) return;
    try {
      this.follow(await this.#client.listen(this.#filter, { timeout: this.#timeoutMs }));
    } catch (error) {
      this.#client.onerror?.(error as Error);
      this.follow(undefined);
    }
  }

  /** Follows `listening`, the stream opened on connect; none there (it failed to open) is retried. */
  follow(listening: Listening | undefined): void {
    this.#current = listening;
    if (listening === undefined) {
      if (Object.keys(this.#filter).length > 0) this.#renewal.schedule(() => this.#current === undefined);
      return;
    }
    void listening.closed.then((cause) => {
      if (this.#current !== listening || cause === 'local') return;
      this.#current = undefined;
      this.#renewal.schedule(() => this.#current === undefined);
    });
  }

  async #reopen(): Promise<void> {
    const listening = await this.#client.listen(this.#filter, { timeout: this.#timeoutMs });
    this.#renewal.opened();
    this.follow(listening);
    this.#missed();
  }
}
