import type { ServerResponse } from 'node:http';

/** Counts HTTP exchanges still being answered, so a drain can wait until they are all done. */
export class InFlightExchanges {
  #count = 0;
  #waiters: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  track(res: ServerResponse): void {
    this.#count++;
    res.once('close', () => {
      if (--this.#count === 0) for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    return this.#count === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}
