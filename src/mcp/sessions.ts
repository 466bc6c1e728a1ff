import { randomUUID } from 'node:crypto';
import type { SessionOverview, SessionSummary } from '../tools/builtin.ts';
import type { HttpServerTransport } from './transport.ts';

/** A session is its transport (which also keeps its subscriptions and log level) and its times. */
export interface Session {
  readonly id: string;
  readonly transport: HttpServerTransport;
  readonly createdAt: number;
  protocolVersion: string;
  lastSeen: number;
}

/**
 * The open sessions by id. A touch only stamps the session, and the idle sweep reads every stamp:
 * keeping the map in least-recently-seen order instead (a delete and a re-insert per request) made
 * V8 rebuild the long-lived map's table every few requests, directly in the old generation.
 */
export class SessionRegistry implements SessionOverview {
  readonly #sessions = new Map<string, Session>();
  readonly #max: number;
  readonly #idleTtlMs: number;
  readonly #sweeper: NodeJS.Timeout;
  readonly #now: () => number;

  readonly #onEnded: ((session: Session) => void) | undefined;

  constructor(options: {
    max: number;
    idleTtlSeconds: number;
    now?: () => number;
    /** Called once for each session that ends (deleted, expired or closed). */
    onEnded?: (session: Session) => void;
  }) {
    this.#max = options.max;
    this.#onEnded = options.onEnded;
    this.#idleTtlMs = options.idleTtlSeconds * 1000;
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.sweep(), Math.min(this.#idleTtlMs / 2, 30_000));
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  get max(): number {
    return this.#max;
  }

  get isFull(): boolean {
    return this.#sessions.size >= this.#max;
  }

  newId(): string {
    return randomUUID();
  }

  add(session: Session): void {
    this.#sessions.set(session.id, session);
  }

  /** Finds a session and marks it seen. */
  touch(id: string): Session | undefined {
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    session.lastSeen = this.#now();
    return session;
  }

  async delete(id: string): Promise<boolean> {
    const session = this.#sessions.get(id);
    if (!session) return false;
    this.#sessions.delete(id);
    this.#onEnded?.(session);
    await session.transport.close();
    return true;
  }

  /** Ends sessions idle for longer than the TTL; a session with work in flight or an open stream is not idle. */
  sweep(): void {
    const now = this.#now();
    const cutoff = now - this.#idleTtlMs;
    for (const session of this.#sessions.values()) {
      if (session.lastSeen > cutoff) continue;
      if (session.transport.inflightCount > 0 || session.transport.hasStandaloneStream) {
        session.lastSeen = now;
        continue;
      }
      void this.delete(session.id);
    }
  }

  all(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  summaries(): SessionSummary[] {
    const now = this.#now();
    return [...this.#sessions.values()].map((s) => ({
      id: s.id,
      protocolVersion: s.protocolVersion,
      ageSeconds: Math.round((now - s.createdAt) / 1000),
      idleSeconds: Math.round((now - s.lastSeen) / 1000),
      inflight: s.transport.inflightCount,
      standaloneStream: s.transport.hasStandaloneStream,
    }));
  }

  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#sessions.keys()].map((id) => this.delete(id)));
  }
}
