import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type GateVerdict = 'admitted' | 'queue_full' | 'queue_timeout';

/** Why a request was refused before reaching the MCP endpoint: the values of `lookout.admission.reason`. */
export const admissionRejections = [
  'host_or_origin',
  'unauthorized',
  'draining',
  'rate_limited',
  'queue_full',
  'queue_timeout',
] as const satisfies readonly string[];
export type AdmissionRejection = (typeof admissionRejections)[number];

/**
 * At most `max` requests at once; up to `queue` more wait, each at most `timeoutMs`. A request that
 * finds the queue full or waits too long is refused, so overload sheds load instead of piling it up.
 */
export class ConcurrencyGate {
  readonly #max: number;
  readonly #queueLimit: number;
  readonly #timeoutMs: number;
  readonly #waiting: (() => void)[] = [];
  #active = 0;

  constructor(max: number, queue: number, timeoutMs: number) {
    this.#max = max;
    this.#queueLimit = queue;
    this.#timeoutMs = timeoutMs;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** The verdict at once when a slot is free or the queue is full; a promise of it when queued. */
  acquire(): GateVerdict | Promise<GateVerdict> {
    if (this.#active < this.#max) {
      this.#active++;
      return 'admitted';
    }
    if (this.#waiting.length >= this.#queueLimit) return 'queue_full';
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#active++;
        resolve('admitted');
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(wake);
        if (index >= 0) this.#waiting.splice(index, 1);
        resolve('queue_timeout');
      }, this.#timeoutMs);
      this.#waiting.push(wake);
    });
  }

  release(): void {
    this.#active--;
    this.#waiting.shift()?.();
  }
}

/** A token bucket per client: `perSecond` sustained, `burst` at once. */
export class ClientRateLimit {
  readonly #limiter: BurstyRateLimiter;

  constructor(perSecond: number, burst: number) {
    // rate-limiter-flexible counts fixed windows; the bursty pair gives the sustained rate plus a burst.
    this.#limiter = new BurstyRateLimiter(
      new RateLimiterMemory({ points: Math.max(1, Math.round(perSecond)), duration: 1 }),
      new RateLimiterMemory({
        keyPrefix: 'burst',
        points: burst,
        duration: Math.max(1, Math.ceil(burst / perSecond)),
      }),
    );
  }

  /** Undefined when allowed, else the seconds to wait before trying again. */
  async check(key: string): Promise<number | undefined> {
    try {
      await this.#limiter.consume(key);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw rejection;
    }
  }
}
