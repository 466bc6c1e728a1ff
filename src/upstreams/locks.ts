import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { Mutex, type MutexInterface } from 'async-mutex';
import type { UpstreamConfig } from '../config/schema.ts';
import { LookoutError } from '../errors/catalog.ts';
import type { Logger } from '../logging/logger.ts';

/** The lock every request takes when the upstream is `exclusive`; a tool's lock names cannot collide with it. */
const wholeUpstream = '';

/** Rejects once `signal` aborts, with its reason. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * The named locks of one upstream (`locks` in its config), for servers that are not safe to call
 * concurrently. A lock is held only while its call runs: it passes on when the call ends, fails, times
 * out or is cancelled, and a call that holds it longer than `maxHoldSeconds` is cancelled, so no holder
 * keeps it. A call waits `waitSeconds` at most, then fails with `UPSTREAM_LOCK_TIMEOUT`. The locks are
 * the upstream's, shared by all its connections: what is unsafe to run at once is usually what the
 * server reaches (a file, an editor, a device), which its processes share.
 */
export class UpstreamLocks {
  readonly #upstream: string;
  readonly #config: UpstreamConfig['locks'];
  readonly #logger: Logger;
  readonly #mutexes = new Map<string, Mutex>();
  #waiting = 0;

  constructor(upstream: string, config: UpstreamConfig['locks'], logger: Logger) {
    this.#upstream = upstream;
    this.#config = config;
    this.#logger = logger;
    for (const name of config.exclusive ? [wholeUpstream] : new Set(Object.values(config.tools))) {
      this.#mutexes.set(name, new Mutex());
    }
  }

  /** Calls waiting for a lock now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** The lock a request takes: the upstream's when it is exclusive, else its tool's, if it names one. */
  lockFor(method: string, tool: string | undefined): string | undefined {
    if (this.#config.exclusive) return wholeUpstream;
    return method === 'tools/call' && tool !== undefined ? this.#config.tools[tool] : undefined;
  }

  /**
   * Runs `call` holding the lock `name` (at once when there is none). `call` gets the signal to send
   * with: the caller's, also aborted when the hold lasts too long.
   */
  async run<T>(
    name: string | undefined,
    signal: AbortSignal,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const mutex = name === undefined ? undefined : this.#mutexes.get(name);
    if (name === undefined || mutex === undefined) return call(signal);
    const release = await this.#acquire(mutex, name, signal);
    const hold = new AbortController();
    const maxHoldSeconds = this.#config.maxHoldSeconds;
    // Outside the call's context: the timer would keep its spans alive until it fires.
    const timer = context.with(ROOT_CONTEXT, () =>
      setTimeout(() => {
        this.#logger.warn('upstream lock held too long: call cancelled', {
          upstream: this.#upstream,
          lock: this.#label(name),
          maxHoldSeconds,
        });
        hold.abort(
          new LookoutError(
            'UPSTREAM_TIMEOUT',
            `${this.#upstream} held its lock ${this.#label(name)} longer than ${maxHoldSeconds} s`,
            { upstream: this.#upstream, lock: this.#label(name) },
          ),
        );
      }, maxHoldSeconds * 1000),
    );
    try {
      // The lock passes on when the hold ends even if the call does not notice its signal.
      return await Promise.race([call(AbortSignal.any([signal, hold.signal])), aborted(hold.signal)]);
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  #label(name: string): string {
    return name === wholeUpstream ? '(exclusive)' : `"${name}"`;
  }

  /** Waits for the lock until `waitSeconds` pass or the caller gives up; a waiter that gave up takes no turn. */
  #acquire(mutex: Mutex, name: string, signal: AbortSignal): Promise<MutexInterface.Releaser> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const waitSeconds = this.#config.waitSeconds;
    return new Promise((resolve, reject) => {
      let settled = false;
      this.#waiting++;
      const settle = () => {
        settled = true;
        this.#waiting--;
        clearTimeout(timer);
        signal.removeEventListener('abort', giveUp);
      };
      const fail = (error: unknown) => {
        if (settled) return;
        settle();
        reject(error);
      };
      const giveUp = () => fail(signal.reason);
      const timer = context.with(ROOT_CONTEXT, () =>
        setTimeout(
          () =>
            fail(
              new LookoutError(
                'UPSTREAM_LOCK_TIMEOUT',
                `${this.#upstream}: lock ${this.#label(name)} not free within ${waitSeconds} s`,
                { upstream: this.#upstream, lock: this.#label(name) },
              ),
            ),
          waitSeconds * 1000,
        ),
      );
      signal.addEventListener('abort', giveUp, { once: true });
      void mutex.acquire().then((release) => {
        if (settled) {
          release();
          return;
        }
        settle();
        resolve(release);
      });
    });
  }
}
