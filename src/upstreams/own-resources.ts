import type { Client } from '@modelcontextprotocol/client';
import type { Resource } from '@modelcontextprotocol/sdk/types.js';
import type { HandlerContext } from '../tools/api.ts';
import type { Callers } from './caller-relay.ts';

/**
 * The resources an isolated upstream connection gained after it opened (session-scoped resources a
 * call created), each served only to the client it was made for: the one whose call was running, or
 * had run last, when the upstream said its list changed. What the connection listed when it opened is
 * the upstream's own list, served to every client through the catalog.
 */
export class OwnResources {
  readonly #opening: ReadonlySet<string>;
  readonly #owned = new Map<string, { resource: Resource; owner: string }>();
  /** The list being read again: readers wait for it, so a resource a call just made is found. */
  #reading: Promise<void> = Promise.resolve();

  constructor(listedAtOpen: readonly Resource[]) {
    this.#opening = new Set(listedAtOpen.map((resource) => resource.uri));
  }

  /**
   * The upstream said its list changed: it is read again with `read`; what is new belongs to `owner`.
   * `done` runs after, with whether the owner's list changed.
   */
  changed(read: () => Promise<readonly Resource[]>, owner: string, done: (changed: boolean) => void): void {
    this.#reading = this.#reading.then(async () => {
      const resources = await read().catch(() => undefined);
      if (resources === undefined) return;
      const listed = new Set(resources.map((resource) => resource.uri));
      let changed = false;
      for (const [uri, { owner: previous }] of this.#owned) {
        if (listed.has(uri)) continue;
        this.#owned.delete(uri);
        changed ||= previous === owner;
      }
      for (const resource of resources) {
        if (this.#opening.has(resource.uri)) continue;
        const known = this.#owned.get(resource.uri);
        changed ||= known === undefined;
        this.#owned.set(resource.uri, { resource, owner: known?.owner ?? owner });
      }
      done(changed);
    });
  }

  async of(owner: string): Promise<Resource[]> {
    await this.#reading;
    const own: Resource[] = [];
    for (const entry of this.#owned.values()) if (entry.owner === owner) own.push(entry.resource);
    return own;
  }
}

/**
 * Whose own resources a caller sees: its session's, else its subject's. A caller with neither (a
 * 2026-07-28 request without auth) cannot be told from another: it is served none.
 */
export function ownerOf(caller: HandlerContext): string | undefined {
  return caller.sessionId ?? caller.subject;
}

/**
 * On an isolated connection, a change of the upstream's resource list is read again there and told
 * to the client it belongs to; the lists every client is served stay the catalog connection's.
 */
export function watchOwnResources(
  client: Client,
  resources: OwnResources,
  callers: Callers,
  read: () => Promise<readonly Resource[]>,
): void {
  client.setNotificationHandler('notifications/resources/list_changed', () => {
    const owner = callers.target();
    const key = owner && ownerOf(owner);
    if (!owner || key === undefined) return;
    resources.changed(read, key, (changed) => {
      if (changed)
        void owner.notify({ method: 'notifications/resources/list_changed' }).catch(() => undefined);
    });
  });
}
