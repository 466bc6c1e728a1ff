import type { Client } from '@modelcontextprotocol/client';
import { ListenRenewal } from './listen-renewal.ts';

/** Per connection: who subscribed to which resource URI, by subscriber key, and how to tell them. */
export type Subscribers = Map<string, Map<string, (uri: string) => void>>;

/** Adds a subscriber to `uri` on a connection; whether it is the first (the upstream is asked then). */
export function addSubscriber(
  subscribers: Subscribers,
  uri: string,
  key: string,
  updated: (uri: string) => void,
): boolean {
  const ofUri = subscribers.get(uri) ?? new Map();
  const first = ofUri.size === 0;
  ofUri.set(key, updated);
  subscribers.set(uri, ofUri);
  return first;
}

/** Removes a subscriber to `uri`; whether it was the last one (the upstream is told then). */
export function removeSubscriber(subscribers: Subscribers, uri: string, key: string): boolean {
  const ofUri = subscribers.get(uri);
  if (!ofUri?.delete(key) || ofUri.size > 0) return false;
  subscribers.delete(uri);
  return true;
}

type Listening = Awaited<ReturnType<Client['listen']>>;

/**
 * The resources a connection's clients subscribed to, followed on a 2026-07-28 upstream, which has no
 * `resources/subscribe`: one `subscriptions/listen` stream per connection names them all, and is
 * replaced when they change (the new one opened before the old one is closed, so no update falls
 * between) and closed when nobody is subscribed. A stream the upstream ends (it restarted, or dropped
 * it) is opened again while the connection lasts. Its `notifications/resources/updated` reach the
 * client's handler as on a 2025 session (see open-connection.ts). Changes are applied in order.
 */
export class ResourceListen {
  readonly #client: Client;
  #current: Listening | undefined;
  #following = '';
  #queue: Promise<void> = Promise.resolve();
  #subscribers: Subscribers = new Map();
  #timeoutMs = 0;
  readonly #renewal: ListenRenewal;

  constructor(client: Client) {
    this.#client = client;
    this.#renewal = new ListenRenewal(client, () =>
      this.follow(this.#subscribers, { timeout: this.#timeoutMs }),
    );
  }

  /** Follows exactly the URIs with a subscriber; settles once the upstream acknowledged the stream. */
  follow(subscribers: Subscribers, options: { timeout: number }): Promise<void> {
    this.#subscribers = subscribers;
    this.#timeoutMs = options.timeout;
    this.#renewal.cancel();
    const uris = [...subscribers.keys()].sort();
    const next = this.#queue.then(() => this.#apply(uris));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #apply(uris: string[]): Promise<void> {
    const key = JSON.stringify(uris);
    if (key === this.#following && (this.#current !== undefined || uris.length === 0)) return;
    const previous = this.#current;
    const listening =
      uris.length === 0
        ? undefined
        : await this.#client.listen({ resourceSubscriptions: uris }, { timeout: this.#timeoutMs });
    this.#current = listening;
    this.#following = key;
    this.#renewal.opened();
    void listening?.closed.then((cause) => {
      if (this.#current !== listening || cause === 'local') return;
      this.#current = undefined;
      this.#renewal.schedule(() => this.#current === undefined);
    });
    await previous?.close();
  }
}
