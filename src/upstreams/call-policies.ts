import {
  bulkhead,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  retry,
  wrap,
} from 'cockatiel';
import type { UpstreamConfig } from '../config/schema.ts';
import type { Logger } from '../logging/logger.ts';
import { isUpstreamFailure } from './error-mapping.ts';

/**
 * What every call to one upstream goes through (cockatiel): a bulkhead, a circuit breaker counting
 * the upstream's own failures, and retries with backoff for calls that are safe to repeat.
 */
export class CallPolicies {
  readonly #breaker;
  /** The breaker's count of consecutive failures. */
  readonly #failures: ConsecutiveBreaker;
  readonly #bulkhead;
  readonly #queue: number;
  readonly #policy: IPolicy;
  readonly #safePolicy: IPolicy;
  #closingBreaker = false;

  constructor(config: UpstreamConfig, logger: Logger) {
    this.#failures = new ConsecutiveBreaker(config.breaker.consecutiveFailures);
    this.#breaker = circuitBreaker(handleWhen(isUpstreamFailure), {
      halfOpenAfter: config.breaker.halfOpenAfterSeconds * 1000,
      breaker: this.#failures,
    });
    this.#breaker.onStateChange((state) => {
      // Closing it on a reconnect passes through Isolated (see closeBreaker): not worth a line.
      if (state === CircuitState.Isolated && this.#closingBreaker) return;
      logger.warn('upstream circuit breaker', { upstream: config.name, state: CircuitState[state] });
    });
    this.#queue = config.concurrency.queue;
    this.#bulkhead = bulkhead(config.concurrency.limit, config.concurrency.queue);
    this.#policy = wrap(this.#bulkhead, this.#breaker);
    const retries = retry(handleWhen(isUpstreamFailure), {
      maxAttempts: config.retry.attempts,
      backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }),
    });
    this.#safePolicy = wrap(retries, this.#bulkhead, this.#breaker);
  }

  /** 0 closed, 1 open, 2 half-open, 3 isolated: as cockatiel numbers them. */
  get breakerState(): number {
    return this.#breaker.state;
  }

  /** cockatiel's name for that state: Closed, Open, HalfOpen or Isolated. */
  get breakerStateName(): string {
    return CircuitState[this.#breaker.state];
  }

  get queueDepth(): number {
    return this.#queue - this.#bulkhead.queueSlots;
  }

  /** Runs `call` through the bulkhead and the breaker, and the retries when it is `idempotent`. */
  execute<T>(idempotent: boolean, call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return (idempotent ? this.#safePolicy : this.#policy).execute(call, signal);
  }

  /**
   * A new session with the upstream (initialize and the lists answered) shows it serves again: calls
   * made while it was down may have opened the breaker, which would otherwise refuse every call until
   * its half-open probe, up to `breaker.halfOpenAfterSeconds` later. The failures counted so far are
   * forgotten, as a successful call forgets them. cockatiel closes a breaker when its last isolation is
   * released, but leaves its count as it was.
   */
  closeBreaker(): void {
    this.#failures.success();
    if (this.#breaker.state === CircuitState.Closed) return;
    this.#closingBreaker = true;
    this.#breaker.isolate().dispose();
    this.#closingBreaker = false;
  }
}
