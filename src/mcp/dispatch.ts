import { ProtocolError } from '@modelcontextprotocol/client';
import {
  ErrorCode,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type LoggingLevel,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { JsonRpcCode, jsonRpcError, LookoutError } from '../errors/catalog.ts';
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

/** Who sent a request, when it was authenticated; the token itself is not kept. */
export interface AuthInfo {
  readonly clientId: string;
  readonly scopes: readonly string[];
}

export interface JsonRpcErrorObject {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/** The transport a request came in on: where its reply, and anything sent on its behalf, goes. */
export interface DispatchTransport extends SessionState {
  /** The reply to the request the transport knows as `requestId`. */
  reply(requestId: number, result: unknown, error: JsonRpcErrorObject | undefined): void;
  /** A notification or server→client request, sent with the request it serves (or on the session's stream). */
  send(message: JSONRPCMessage, relatedRequestId?: number): void;
}

/** A result the client's answer must satisfy (a zod schema). */
interface ResultSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: Error };
}

export interface SendRequestOptions {
  /** Aborting it gives up on the answer and tells the client so. */
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** What a handler knows about the request it serves, and how it talks back to the client. */
export interface RequestContext {
  readonly requestId: number;
  /** Aborted when the client cancels the request, disconnects, or the session ends. */
  readonly signal: AbortSignal;
  readonly authInfo: AuthInfo | undefined;
  readonly meta: Record<string, unknown> | undefined;
  /** The session the request came in on (or, stateless and modern, the shared transport's state). */
  readonly session: SessionState;
  sendNotification(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
  sendRequest<T>(
    request: { method: string; params?: Record<string, unknown> },
    resultSchema: ResultSchema<T>,
    options?: SendRequestOptions,
  ): Promise<T>;
}

export type RequestHandler = (request: JSONRPCRequest, context: RequestContext) => unknown;

/** Told of every error a handler threw that is not a protocol error: the client only learns -32603. */
export type UnexpectedErrorSink = (method: string, error: unknown) => void;

/** How long a client has to answer a server→client request (sampling, elicitation, roots). */
const defaultRequestTimeoutMs = 60_000;

const internalError: JsonRpcErrorObject = { code: JsonRpcCode.InternalError, message: 'Internal error' };

/**
 * The JSON-RPC error a thrown error becomes. Catalog errors and the SDKs' protocol errors (an upstream's
 * answer passed on) keep their code, message and data; anything else is a bug, whose message and stack
 * stay on the server.
 */
function rpcErrorOf(error: unknown): JsonRpcErrorObject | undefined {
  if (error instanceof LookoutError || error instanceof McpError || error instanceof ProtocolError) {
    return error.data === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, data: error.data };
  }
  return undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/** A server→client request waiting for its answer. */
interface Awaited {
  readonly transport: DispatchTransport;
  readonly relatedRequestId: number;
  readonly settle: (response: { result: unknown } | Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One request being handled. A class rather than a bag of closures: the methods live on the prototype,
 * so a request costs one object however many of them its handler uses.
 */
class Call implements RequestContext {
  readonly requestId: number;
  readonly signal: AbortSignal;
  readonly authInfo: AuthInfo | undefined;
  readonly meta: Record<string, unknown> | undefined;
  readonly session: DispatchTransport;
  readonly #dispatcher: Dispatcher;

  constructor(
    dispatcher: Dispatcher,
    transport: DispatchTransport,
    request: JSONRPCRequest,
    requestId: number,
    signal: AbortSignal,
    authInfo: AuthInfo | undefined,
  ) {
    this.#dispatcher = dispatcher;
    this.session = transport;
    this.requestId = requestId;
    this.signal = signal;
    this.authInfo = authInfo;
    this.meta = request.params?._meta as Record<string, unknown> | undefined;
  }

  async sendNotification(notification: { method: string; params?: Record<string, unknown> }): Promise<void> {
    if (this.signal.aborted) return;
    this.session.send({ jsonrpc: '2.0', ...notification } as JSONRPCMessage, this.requestId);
  }

  sendRequest<T>(
    request: { method: string; params?: Record<string, unknown> },
    resultSchema: ResultSchema<T>,
    options?: SendRequestOptions,
  ): Promise<T> {
    if (this.signal.aborted) {
      return Promise.reject(new McpError(ErrorCode.ConnectionClosed, 'Request was cancelled'));
    }
    return this.#dispatcher.ask(this.session, this.requestId, request, resultSchema, options);
  }
}

/**
 * Lookout's JSON-RPC dispatcher, one for the process: it serves every session of both eras (what a
 * handler keeps per session it keeps on the session's transport, `context.session`), so an idle session
 * holds no handler table or maps of its own (docs/performance.md has the memory per session).
 *
 * Transports hand it requests already classified and numbered (ids unique across transports); it
 * runs the method's handler and replies on the request's transport. It also sends the server's own
 * requests to clients and matches their answers, which every transport hands back through `response`.
 */
export class Dispatcher {
  readonly #handlers = new Map<string, RequestHandler>();
  /** The server's requests to clients, by id: numbered across all sessions, as clients echo them. */
  readonly #awaiting = new Map<number, Awaited>();
  readonly #onUnexpected: UnexpectedErrorSink;
  #nextRequestId = 0;

  constructor(initialize: RequestHandler, onUnexpected: UnexpectedErrorSink) {
    this.#onUnexpected = onUnexpected;
    this.#handlers.set('initialize', initialize);
    this.#handlers.set('ping', () => ({}));
  }

  /** Registers the handler of a method; a later registration replaces an earlier one. */
  handle(method: string, handler: RequestHandler): void {
    this.#handlers.set(method, handler);
  }

  /**
   * Runs a request's handler; its reply goes to `transport.reply(requestId, …)` unless `signal` was
   * aborted first (the transport then answers, or not, itself).
   */
  request(
    transport: DispatchTransport,
    request: JSONRPCRequest,
    requestId: number,
    signal: AbortSignal,
    authInfo: AuthInfo | undefined,
  ): void {
    const handler = this.#handlers.get(request.method);
    if (handler === undefined) {
      transport.reply(requestId, undefined, jsonRpcError('METHOD_NOT_FOUND', null, request.method).error);
      return;
    }
    let outcome: unknown;
    try {
      outcome = handler(request, new Call(this, transport, request, requestId, signal, authInfo));
    } catch (error) {
      if (!signal.aborted) transport.reply(requestId, undefined, this.#errorOf(request.method, error));
      return;
    }
    if (!isThenable(outcome)) {
      if (!signal.aborted) transport.reply(requestId, outcome, undefined);
      return;
    }
    outcome.then(
      (result) => {
        if (!signal.aborted) transport.reply(requestId, result, undefined);
      },
      (error: unknown) => {
        if (!signal.aborted) transport.reply(requestId, undefined, this.#errorOf(request.method, error));
      },
    );
  }

  #errorOf(method: string, error: unknown): JsonRpcErrorObject {
    const known = rpcErrorOf(error);
    if (known) return known;
    this.#onUnexpected(method, error);
    return internalError;
  }

  /** A client's answer to one of the server's requests; an answer nobody waits for is dropped. */
  response(response: { id?: unknown; result: unknown } | { id?: unknown; error: JsonRpcErrorObject }): void {
    const id = Number(response.id);
    const awaited = this.#awaiting.get(id);
    if (!awaited) return;
    this.#awaiting.delete(id);
    clearTimeout(awaited.timer);
    awaited.settle(
      'error' in response
        ? new McpError(response.error.code, response.error.message, response.error.data)
        : response,
    );
  }

  /** Sends a server→client request on behalf of a running request and waits for the client's answer. */
  ask<T>(
    transport: DispatchTransport,
    relatedRequestId: number,
    request: { method: string; params?: Record<string, unknown> },
    resultSchema: ResultSchema<T>,
    options: SendRequestOptions | undefined,
  ): Promise<T> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.#nextRequestId++;
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = options?.timeoutMs ?? defaultRequestTimeoutMs;
      const giveUp = (reason: Error) => {
        if (!this.#awaiting.delete(id)) return;
        clearTimeout(timer);
        // The client may still be working on it: tell it the answer is no longer wanted.
        transport.send(
          {
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: id, reason: reason.message },
          },
          relatedRequestId,
        );
        reject(reason);
      };
      const timer = setTimeout(
        () => giveUp(new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: timeoutMs })),
        timeoutMs,
      );
      const onAbort = () =>
        giveUp(
          signal?.reason instanceof Error ? signal.reason : new McpError(ErrorCode.RequestTimeout, 'Aborted'),
        );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#awaiting.set(id, {
        transport,
        relatedRequestId,
        timer,
        settle: (response) => {
          signal?.removeEventListener('abort', onAbort);
          if (response instanceof Error) {
            reject(response);
            return;
          }
          const parsed = resultSchema.safeParse(response.result);
          if (parsed.success) resolve(parsed.data);
          else reject(parsed.error);
        },
      });
      transport.send({ jsonrpc: '2.0', id, ...request } as JSONRPCMessage, relatedRequestId);
    });
  }

  /** Ends every wait for a client's answer: the server is shutting down. */
  close(): void {
    for (const [id, awaited] of this.#awaiting) {
      this.#awaiting.delete(id);
      clearTimeout(awaited.timer);
      awaited.settle(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'));
    }
  }
}
