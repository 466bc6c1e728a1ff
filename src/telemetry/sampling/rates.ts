/**
 * Arrivals per key over a sliding window made of buckets, on an injectable clock. The rate of a key
 * seen for less than a window is its arrivals over the time since it was first seen.
 */
export class SlidingRate {
  readonly #buckets: Float64Array;
  readonly #bucketMs: number;
  readonly #windowMs: number;
  #bucketStart: number;
  #current = 0;
  readonly #firstSeen: number;

  constructor(windowSeconds: number, bucketCount: number, now: number) {
    this.#buckets = new Float64Array(bucketCount);
    this.#windowMs = windowSeconds * 1000;
    this.#bucketMs = this.#windowMs / bucketCount;
    this.#bucketStart = now;
    this.#firstSeen = now;
  }

  #advance(now: number): void {
    let steps = Math.floor((now - this.#bucketStart) / this.#bucketMs);
    if (steps <= 0) return;
    if (steps > this.#buckets.length) steps = this.#buckets.length;
    for (let i = 0; i < steps; i++) {
      this.#current = (this.#current + 1) % this.#buckets.length;
      this.#buckets[this.#current] = 0;
    }
    this.#bucketStart += Math.floor((now - this.#bucketStart) / this.#bucketMs) * this.#bucketMs;
  }

  add(now: number): void {
    this.#advance(now);
    this.#buckets[this.#current] = (this.#buckets[this.#current] ?? 0) + 1;
  }

  /** Arrivals per second over the window (or since first seen, if that is shorter). */
  perSecond(now: number): number {
    this.#advance(now);
    let total = 0;
    for (const n of this.#buckets) total += n;
    // The buckets cover the full ones before the current bucket and the part of it that has passed.
    const covered = this.#windowMs - this.#bucketMs + (now - this.#bucketStart);
    const span = Math.min(covered, Math.max(this.#bucketMs, now - this.#firstSeen));
    return (total * 1000) / span;
  }

  /** Arrivals in the current bucket, and how far into it we are, for early adaptation to bursts. */
  current(now: number): { count: number; elapsedMs: number } {
    this.#advance(now);
    return { count: this.#buckets[this.#current] ?? 0, elapsedMs: Math.max(1, now - this.#bucketStart) };
  }
}
