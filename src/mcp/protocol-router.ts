import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type {
  JSONRPCMessage,
  LoggingLevel,
  MessageExtraInfo,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { Era } from './era.ts';

/** What a request's handlers read and change of the session it came in on. */
export interface SessionState {
  readonly sessionId: string | undefined;
  /** Modern (2026-07-28) requests carry their own state in `_meta`; they have no session. */
  readonly era: Era;
  /** Resource URIs the client subscribed to with resources/subscribe; made on the first one. */
  subscriptions: Set<string> | undefined;
  /** What the client declared at `initialize`; undefined in stateless mode, where no session keeps it. */
  readonly clientCapabilities: Readonly<Record<string, unknown>> | undefined;
  /** The level the client chose with logging/setLevel. */
  logLevel: LoggingLevel | undefined;
}

/** One end of the router: a session's transport (or, stateless, the only one). */
export interface RoutedTransport extends SessionState {
  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void>;
}

export type MessageKind = 'request' | 'notification' | 'response';

/**
 * The SDK Protocol's own dispatch entry points. Its public `onmessage` first tries each incoming message
 * against three zod schemas (two of which fail for every request, and a failed parse builds an error);
 * the transports have already classified each message, so the router calls the matching entry point.
 */
interface ProtocolDispatch {
  _onrequest(message: JSONRPCMessage, extra?: MessageExtraInfo): void;
  _onnotification(message: JSONRPCMessage): void;
  _onresponse(message: JSONRPCMessage): void;
}

function hasDispatch(protocol: unknown): protocol is ProtocolDispatch {
  const p = protocol as Partial<ProtocolDispatch>;
  return (
    typeof p._onrequest === 'function' &&
    typeof p._onnotification === 'function' &&
    typeof p._onresponse === 'function'
  );
}

/** The id the protocol server knows a request by: the transport's tag, then its own count. */
export function routedRequestId(tag: number, count: number): string {
  return `${tag}:${count}`;
}

function tagOf(requestId: RequestId | undefined): number | undefined {
  return typeof requestId === 'string' ? Number.parseInt(requestId, 10) : undefined;
}

/**
 * The one transport the process's SDK protocol server is connected to. Every session's transport hands
 * its messages to that server through here; what the server sends back is routed to the transport the
 * message belongs to. One protocol server for all sessions rather than one each: an SDK server holds
 * maps and handler closures, which every idle session would otherwise hold a copy of (docs/performance.md
 * has the memory per session).
 *
 * The server knows requests by ids that name their transport (`routedRequestId`), so a reply, and any
 * notification or request sent on behalf of a request, finds its session even after the request ended.
 */
export class ProtocolRouter implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  readonly #transports = new Map<number, RoutedTransport>();
  #nextTag = 0;
  #dispatchTo: ProtocolDispatch | undefined;

  async start(): Promise<void> {}

  /** After `protocol.connect(this)`: deliver classified messages straight to the protocol's handlers. */
  dispatchDirectly(protocol: unknown): void {
    if (hasDispatch(protocol)) this.#dispatchTo = protocol;
  }

  /** Registers a transport; returns the tag its request ids must carry. */
  attach(transport: RoutedTransport): number {
    const tag = ++this.#nextTag;
    this.#transports.set(tag, transport);
    return tag;
  }

  /** After this, whatever the server still sends for the transport's requests is dropped. */
  detach(tag: number): void {
    this.#transports.delete(tag);
  }

  deliver(kind: MessageKind, message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    const target = this.#dispatchTo;
    if (!target) {
      this.onmessage?.(message, extra);
    } else if (kind === 'request') {
      target._onrequest(message, extra);
    } else if (kind === 'notification') {
      target._onnotification(message);
    } else {
      target._onresponse(message);
    }
  }

  /** The session a request came in on, by the id the server knows it by; undefined once that session ended. */
  sessionOf(requestId: RequestId): SessionState | undefined {
    return this.#transportOf(requestId);
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    // A reply carries its request's id; anything else the server sends names the request it serves.
    const isReply = 'id' in message && !('method' in message);
    await this.#transportOf(isReply ? message.id : options?.relatedRequestId)?.send(message, options);
  }

  async close(): Promise<void> {
    this.onclose?.();
  }

  #transportOf(requestId: RequestId | undefined): RoutedTransport | undefined {
    const tag = tagOf(requestId);
    return tag === undefined ? undefined : this.#transports.get(tag);
  }
}
