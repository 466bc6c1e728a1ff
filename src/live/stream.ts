import type { ServerResponse } from 'node:http';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Logger } from '../logging/logger.ts';
import type { LiveSnapshot, Snapshots } from './snapshot.ts';

const maxPages = 16;

/** What starts with the first open page and stops when the last one leaves. */
export interface WhileWatched {
  started(): void;
  stopped(): void;
}

/**
 * The pages' event streams (SSE). A snapshot is built once a tick and written to every open page; the
 * timer (and whatever `watched` starts) runs only while at least one page is connected, so an unwatched
 * Lookout does no live-view work.
 */
export class LiveStream {
  readonly #snapshots: Snapshots;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  readonly #watched: WhileWatched | undefined;
  readonly #clients = new Set<ServerResponse>();
  #timer: NodeJS.Timeout | undefined;
  #last: string | undefined;
  #ticking = false;

  constructor(snapshots: Snapshots, intervalMs: number, logger: Logger, watched?: WhileWatched) {
    this.#snapshots = snapshots;
    this.#watched = watched;
    this.#intervalMs = intervalMs;
    this.#logger = logger;
  }

  /** Pages connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Whether the tick timer runs. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Whether another page may connect: each one costs a connection and a write a tick. */
  get full(): boolean {
    return this.#clients.size >= maxPages;
  }

  add(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    this.#clients.add(res);
    res.once('close', () => this.#remove(res));
    if (this.#last !== undefined) res.write(this.#last);
    // Outside the request's context: the timer outlives the request that started it.
    if (!this.#timer) {
      this.#watched?.started();
      context.with(ROOT_CONTEXT, () => {
        this.#timer = setInterval(() => void this.#tick(), this.#intervalMs);
        void this.#tick();
      });
    }
  }

  #remove(res: ServerResponse): void {
    this.#clients.delete(res);
    if (this.#clients.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#last = undefined;
    this.#snapshots.reset();
    this.#watched?.stopped();
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    let snapshot: LiveSnapshot;
    try {
      snapshot = await this.#snapshots.next();
    } catch (error) {
      this.#logger.warn('live view snapshot failed', { error: (error as Error).message });
      return;
    } finally {
      this.#ticking = false;
    }
    if (this.#clients.size === 0) return;
    this.#last = `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
    for (const res of this.#clients) res.write(this.#last);
  }

  /** Ends every stream (on shutdown). */
  close(): void {
    for (const res of this.#clients) res.end();
  }
}
