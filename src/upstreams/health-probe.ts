import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { UpstreamConfig } from '../config/schema.ts';

/**
 * Pings a connected upstream at MCP level, one ping at a time. An upstream whose process is alive and
 * whose connection is open can still be hung (stuck, or not reading its input): only an answer tells.
 * A ping that fails (no answer within its timeout) starts the grace period; an answer ends it. When the
 * grace period runs out with no answer, `onHung` is called; the first answer after that calls
 * `onRecovered`. The probe goes on until stopped.
 */
export class HealthProbe {
  readonly #health: UpstreamConfig['health'];
  readonly #ping: (timeoutMs: number) => Promise<unknown>;
  readonly #onHung: (silentForMs: number) => void;
  readonly #onRecovered: () => void;
  #hung = false;
  #timer: NodeJS.Timeout | undefined;
  #failingSince: number | undefined;
  #stopped = false;

  constructor(
    health: UpstreamConfig['health'],
    ping: (timeoutMs: number) => Promise<unknown>,
    onHung: (silentForMs: number) => void,
    onRecovered: () => void,
  ) {
    this.#health = health;
    this.#ping = ping;
    this.#onHung = onHung;
    this.#onRecovered = onRecovered;
    if (health.intervalSeconds > 0) this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    // Not part of whatever trace was active when the upstream connected.
    this.#timer = context.with(ROOT_CONTEXT, () =>
      setTimeout(() => void this.#probe(), this.#health.intervalSeconds * 1000),
    );
    this.#timer.unref();
  }

  async #probe(): Promise<void> {
    const answered = await this.#ping(this.#health.timeoutSeconds * 1000).then(
      () => true,
      () => false,
    );
    if (this.#stopped) return;
    const now = Date.now();
    if (answered) {
      this.#failingSince = undefined;
      if (this.#hung) {
        this.#hung = false;
        this.#onRecovered();
      }
    } else {
      this.#failingSince ??= now - this.#health.timeoutSeconds * 1000;
      if (!this.#hung && now - this.#failingSince >= this.#health.graceSeconds * 1000) {
        this.#hung = true;
        this.#onHung(now - this.#failingSince);
      }
    }
    this.#schedule();
  }

  /** The connection is gone: nothing to watch. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
