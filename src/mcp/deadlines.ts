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

/**
 * A deadline not yet expired or cancelled, linked into its duration's list. Not kept in a `Set`: one
 * that lives in the old generation and gains and loses an entry per call carried finished calls'
 * deadlines, and through their closures the calls, into the old generation, to die only in a full
 * collection (see docs/performance.md).
 */
class Pending implements Deadline {
  readonly at: number;
  readonly expire: () => void;
  readonly #list: DeadlineList;
  previous: Pending | undefined;
  next: Pending | undefined;

  constructor(at: number, expire: () => void, list: DeadlineList) {
    this.at = at;
    this.expire = expire;
    this.#list = list;
  }

  cancel(): void {
    this.#list.remove(this);
  }
}

/**
 * The scope timers are armed in: the one this module was loaded in. A duration's timer outlives the
 * call that armed it, and a timer keeps the async context it was created in (a request's, holding its
 * spans) alive until it fires.
 */
const outsideAnyCall = new AsyncResource('lookout.deadlines');

/** Deadlines of one duration: linked in the order they fall due, so only the oldest is ever looked at. */
class DeadlineList {
  readonly #ms: number;
  #oldest: Pending | undefined;
  #newest: Pending | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  add(expire: () => void): Pending {
    const pending = new Pending(performance.now() + this.#ms, expire, this);
    pending.previous = this.#newest;
    if (this.#newest === undefined) this.#oldest = pending;
    else this.#newest.next = pending;
    this.#newest = pending;
    if (this.#timer === undefined) this.#arm(this.#ms);
    return pending;
  }

  remove(pending: Pending): void {
    // Only the oldest has no previous while linked; a removed one has neither.
    if (pending.previous === undefined && this.#oldest !== pending) return;
    const { previous, next } = pending;
    if (previous === undefined) this.#oldest = next;
    else previous.next = next;
    if (next === undefined) this.#newest = previous;
    else next.previous = previous;
    pending.previous = undefined;
    pending.next = undefined;
  }

  #arm(ms: number): void {
    // A deadline guards work the process is doing anyway: it must not keep the process alive.
    this.#timer = outsideAnyCall.runInAsyncScope(setTimeout, undefined, this.#fire, ms).unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (let pending = this.#oldest; pending !== undefined; pending = this.#oldest) {
      if (pending.at > now) {
        this.#arm(pending.at - now);
        return;
      }
      this.remove(pending);
      pending.expire();
    }
  };
}
