import type { UpstreamConfig } from '../config/schema.ts';

/** When to try an upstream again after it was lost, and whether to hold it down first. */
export interface NextAttempt {
  readonly delayMs: number;
  /** Too many restarts of a stdio child in the window: it waits `restart.holdSeconds`. */
  readonly holding: boolean;
}

/**
 * Reconnection timing that fits the transport. Both get exponential backoff with jitter. A stdio child
 * that keeps exiting is a crash loop, held down after `restart.maxRestarts` restarts within
 * `restart.windowSeconds`; an HTTP upstream that refuses connections is only not there yet (or
 * restarting), so it is tried again with backoff and never held. A connection that stayed up
 * `restart.stableAfterSeconds` wipes the slate: backoff and restart count start over.
 */
export class RestartSchedule {
  readonly #restart: UpstreamConfig['restart'];
  readonly #crashLoopProtection: boolean;
  #restartTimes: number[] = [];
  #attempt = 0;
  #connectedAt: number | undefined;

  constructor(config: UpstreamConfig) {
    this.#restart = config.restart;
    this.#crashLoopProtection = config.transport === 'stdio';
  }

  connected(now: number): void {
    this.#connectedAt = now;
  }

  /** A restart is starting now: it counts toward the crash-loop window. */
  restarting(now: number): void {
    this.#restartTimes.push(now);
  }

  /** The connection was lost (or an attempt failed) at `now`. */
  lost(now: number): NextAttempt {
    const { maxRestarts, windowSeconds, holdSeconds, initialBackoffSeconds, maxBackoffSeconds } =
      this.#restart;
    if (
      this.#connectedAt !== undefined &&
      now - this.#connectedAt >= this.#restart.stableAfterSeconds * 1000
    ) {
      this.#attempt = 0;
      this.#restartTimes = [];
    }
    this.#connectedAt = undefined;
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < windowSeconds * 1000);
    if (this.#crashLoopProtection && this.#restartTimes.length >= maxRestarts) {
      this.#restartTimes = [];
      return { delayMs: holdSeconds * 1000, holding: true };
    }
    const base = Math.min(maxBackoffSeconds, initialBackoffSeconds * 2 ** this.#attempt) * 1000;
    this.#attempt++;
    return { delayMs: base * (0.5 + Math.random()), holding: false };
  }
}
