import type { Client, PriorDiscovery } from '@modelcontextprotocol/client';

/**
 * The era one upstream was found to speak by the first connection that probed it (`era: auto`), kept
 * for the life of the process: every later connection to it (a reconnect after a crash, an isolated
 * connection) starts in that era at once, without `server/discover` first.
 */
export class EraVerdict {
  #prior: PriorDiscovery | undefined;

  /** The verdict to connect with, if one is known. */
  get prior(): PriorDiscovery | undefined {
    return this.#prior;
  }

  /** Keeps what a connection that probed settled on. */
  learn(client: Client): void {
    const discover = client.getDiscoverResult();
    this.#prior = client.getProtocolEra() === 'modern' && discover ? { kind: 'modern', discover } : legacy;
  }

  /** The upstream is known to speak 2025 only (it exited on the probe). */
  learnLegacy(): void {
    this.#prior = legacy;
  }

  /** The upstream refused a connection made on the verdict: the next one probes again (it may have changed). */
  forget(): void {
    this.#prior = undefined;
  }
}

const legacy: PriorDiscovery = { kind: 'legacy' };
