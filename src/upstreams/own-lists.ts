import type { Client } from '@modelcontextprotocol/client';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { toolsAndPromptsOf } from './listing.ts';

/**
 * What one isolated connection itself lists of tools and prompts. Its client's calls may change them,
 * which the shared lists do not show: such a change is announced to every client, as the upstream
 * announced it. A notice that changes nothing there (some servers send one on every new connection)
 * only has the shared lists read again. Read outside any call's trace.
 */
export class OwnLists {
  readonly #timeoutMs: number;
  readonly #onListChanged: (ownChanged: boolean) => void;
  #client: Client | undefined;
  #listed: string | undefined;

  constructor(timeoutMs: number, onListChanged: (ownChanged: boolean) => void) {
    this.#timeoutMs = timeoutMs;
    this.#onListChanged = onListChanged;
  }

  /** The connection is open: what it lists is read beside its first call, not before it. */
  opened(client: Client): void {
    this.#client = client;
    this.#read(client).then(
      (listed) => {
        this.#listed ??= listed;
      },
      () => undefined,
    );
  }

  /** The connection said a list changed. Before its lists were first read, there is nothing to compare. */
  changed(): void {
    const client = this.#client;
    if (client === undefined || this.#listed === undefined) {
      this.#onListChanged(false);
      return;
    }
    this.#read(client).then(
      (listed) => {
        const ownChanged = listed !== this.#listed;
        this.#listed = listed;
        this.#onListChanged(ownChanged);
      },
      () => this.#onListChanged(false),
    );
  }

  #read(client: Client): Promise<string> {
    return context.with(ROOT_CONTEXT, () => toolsAndPromptsOf(client, this.#timeoutMs));
  }
}
