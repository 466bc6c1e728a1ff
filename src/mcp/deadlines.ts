import { AsyncResource } from 'node:async_hooks';

/** A deadline that has not passed yet; `cancel` once the work it guards is done. */
export interface Deadline {
  cancel(): void;
}

/**
 * Call deadlines on one timer per duration. Node drops a duration's timer list as soon as it empties
 * and builds it again on the next `setTimeout`; a server whose calls finish before the next one starts
 * paid for a new list, a priority-queue entry and a libuv timer restart on every call. Here a
 * duration's timer stays armed while it has deadlines, and firing late on an emptied list costs one
 * wake-up.
 */
export class Deadlines {
  readonly #byDuration = new Map<number, DeadlineList>();

  /** Calls `expire` once `ms` have passed, unless cancelled first. */
  start(ms: number, expire: () => void): Deadline {
    let list = this.#byDuration.get(ms);
    if (list === undefined) {
      list = new DeadlineList(ms);
      this.#byDuration.set(ms, list);
    }
    return list.add(expire);
  }
}

class Pending implements Deadline {
  readonly at: number;
  readonly expire: () => void;
  readonly #list: Set<Pending>;

  constructor(at: number, expire: () => void, list: Set<Pending>) {
    this.at = at;
    this.expire = expire;
    this.#list = list;
  }

  cancel(): void {
    this.#list.delete(this);
  }
}

/**
 * The scope timers are armed in: the one this module was loaded in. A duration's timer outlives the
 * call that armed it, and a timer keeps the async context it was created in (a request's, holding its
 * spans) alive until it fires.
 */
const outsideAnyCall = new AsyncResource('lookout.deadlines');

/** Deadlines of one duration: added in the order they fall due, so only the oldest is ever looked at. */
class DeadlineList {
  readonly #ms: number;
  // A Set keeps insertion order and deletes in constant time.
  readonly #pending = new Set<Pending>();
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  add(expire: () => void): Pending {
    const pending = new Pending(performance.now() + this.#ms, expire, this.#pending);
    this.#pending.add(pending);
    if (this.#timer === undefined) this.#arm(this.#ms);
    return pending;
  }

  #arm(ms: number): void {
    // A deadline guards work the process is doing anyway: it must not keep the process alive.
    this.#timer = outsideAnyCall.runInAsyncScope(setTimeout, undefined, this.#fire, ms).unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const pending of this.#pending) {
      if (pending.at > now) {
        this.#arm(pending.at - now);
        return;
      }
      this.#pending.delete(pending);
      pending.expire();
    }
  };
}
