import type { Client } from '@modelcontextprotocol/client';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import type { HandlerContext } from '../tools/api.ts';
import type { UpstreamState } from './catalog-connection.ts';
import type { Connection } from './connection-pool.ts';
import type { LogParams } from './log-relay.ts';
import type { ConnectionDeps } from './open-connection.ts';
import type { CacheMetrics } from './response-cache.ts';

/** An upstream as the live view shows it. */
export interface UpstreamStatus {
  readonly name: string;
  readonly transport: 'stdio' | 'http';
  readonly state: UpstreamState;
  /** The protocol version negotiated with it, once connected. */
  readonly protocolVersion: string | undefined;
  readonly tools: number;
  /** Reconnects since start. */
  readonly restarts: number;
  /** cockatiel's name: Closed, Open, HalfOpen or Isolated. */
  readonly breaker: string;
  readonly lastError: { readonly message: string; readonly at: string } | undefined;
}

export interface CallOptions {
  /** The client the call is made for: its connection is used, and the upstream's requests go to it. */
  readonly caller: HandlerContext;
  readonly signal: AbortSignal;
  readonly onprogress?: (progress: Progress) => void;
  /** Receives the upstream's log messages while the call runs. */
  readonly onlog?: (params: LogParams) => void;
  /** Safe to repeat (read-only or idempotent): only such calls are retried. */
  readonly idempotent: boolean;
}

/** What an upstream needs from Lookout besides its own config. */
export interface UpstreamDeps extends ConnectionDeps {
  /**
   * After the upstream (re)connects or refreshes its tool, resource and prompt lists. `announce`: a
   * connection's own tools or prompts changed, so every client is told even if the shared lists did not.
   */
  readonly onListsChanged: (announce: boolean) => void;
  readonly onRestart: () => void;
  readonly cacheMetrics: CacheMetrics;
}

/** A call as its span and the policies see it. */
export interface Call<T> {
  readonly method: string;
  readonly target: string | undefined;
  /** Whether the upstream lists what is called (its span says so). */
  readonly known: boolean;
  readonly caller: HandlerContext;
  readonly signal: AbortSignal;
  readonly idempotent: boolean;
  /** The span's `error.type` for a result that is an error (a tool's). */
  readonly outcome: (result: T) => string | undefined;
}

export type Send<T> = (
  client: Client,
  meta: Record<string, string>,
  options: { signal: AbortSignal; timeout: number },
  connection: Connection,
) => Promise<T>;
