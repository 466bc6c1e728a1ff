import type { Client } from '@modelcontextprotocol/client';
import {
  type ClientCapabilities,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  ListRootsResultSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { LookoutError } from '../errors/catalog.ts';
import type { HandlerContext } from '../tools/api.ts';

/** What Lookout can relay from an upstream to a client: the catalog connection declares all of it. */
export const relayableCapabilities: ClientCapabilities = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
};

/** The relayable part of what a client declared: what an upstream connection made for it declares. */
export function relayedCapabilities(
  declared: Readonly<Record<string, unknown>> | undefined,
): ClientCapabilities {
  const client = (declared ?? {}) as ClientCapabilities;
  return {
    ...(client.sampling !== undefined && { sampling: client.sampling }),
    ...(client.elicitation !== undefined && { elicitation: client.elicitation }),
    ...(client.roots !== undefined && { roots: client.roots }),
  };
}

/** How long a call stopped by a relayed question waits for the upstream's next question. */
const askedTogetherMs = 50;

/** URL-mode elicitations remembered per connection until they complete. */
const maxOpenElicitations = 1000;

/**
 * The calls a connection to an upstream is serving, so that a request the upstream sends (sampling,
 * elicitation, roots) goes to the client that caused it. On a connection of one session or subject,
 * every call is that client's: the latest one, or the last one when none runs (a roots/list after a
 * roots change). On a shared connection the caller is known only while exactly one call runs.
 */
export class Callers {
  readonly #shared: boolean;
  readonly #running: HandlerContext[] = [];
  /** Ends a running call at once, with the error given: see `stop`. */
  readonly #stops = new Map<HandlerContext, (error: Error) => void>();
  readonly #stopTimers = new Map<HandlerContext, NodeJS.Timeout>();
  /** Each running call's end. */
  readonly #ends = new Map<HandlerContext, Promise<void>>();
  /** The downstream sessions whose calls this connection served. */
  readonly #sessions = new Set<string>();
  #last: HandlerContext | undefined;
  /** URL-mode elicitations sent to a client, by id: their completion is told to the same client. */
  readonly #elicitations = new Map<string, HandlerContext>();

  constructor(shared: boolean) {
    this.#shared = shared;
  }

  get busy(): boolean {
    return this.#running.length > 0;
  }

  async during<T>(caller: HandlerContext, work: () => Promise<T>): Promise<T> {
    this.#running.push(caller);
    this.#last = caller;
    if (caller.sessionId !== undefined) this.#sessions.add(caller.sessionId);
    const stopped = new Promise<never>((_, reject) => this.#stops.set(caller, reject));
    let ended = () => {};
    this.#ends.set(
      caller,
      new Promise<void>((resolve) => {
        ended = resolve;
      }),
    );
    try {
      return await Promise.race([work(), stopped]);
    } finally {
      clearTimeout(this.#stopTimers.get(caller));
      this.#stopTimers.delete(caller);
      this.#stops.delete(caller);
      this.#ends.delete(caller);
      ended();
      this.#running.splice(this.#running.indexOf(caller), 1);
    }
  }

  /**
   * Ends a caller's call with `error` instead of waiting for the upstream's answer: Lookout itself
   * refused to pass on a request of the upstream (a 2026-07-28 client is asked by an
   * InputRequiredResult, or lacks the capability), and that is the call's answer.
   */
  stop(caller: HandlerContext, error: Error): void {
    const stop = this.#stops.get(caller);
    if (!stop) return;
    // Questions an upstream asks together arrive one message after another: the call ends a moment
    // after the last, so that its InputRequiredResult carries them all.
    clearTimeout(this.#stopTimers.get(caller));
    this.#stopTimers.set(
      caller,
      setTimeout(() => stop(error), askedTogetherMs),
    );
  }

  /** Settles when the caller's running call has ended (at once when none runs). */
  async ended(caller: HandlerContext): Promise<void> {
    await this.#ends.get(caller);
  }

  served(sessionId: string): boolean {
    return this.#sessions.has(sessionId);
  }

  /** A URL-mode elicitation went to `caller`; the oldest is forgotten past a bound (a flow never completed). */
  elicited(elicitationId: string, caller: HandlerContext): void {
    this.#elicitations.set(elicitationId, caller);
    if (this.#elicitations.size > maxOpenElicitations) {
      this.#elicitations.delete(this.#elicitations.keys().next().value as string);
    }
  }

  /** The client a URL-mode elicitation went to, once: its completion is told only once. */
  elicitedBy(elicitationId: string): HandlerContext | undefined {
    const caller = this.#elicitations.get(elicitationId);
    this.#elicitations.delete(elicitationId);
    return caller;
  }

  target(): HandlerContext | undefined {
    if (this.#shared) return this.#running.length === 1 ? this.#running[0] : undefined;
    return this.#running.at(-1) ?? this.#last;
  }
}

function callerFor(callers: Callers, method: string, capability: keyof ClientCapabilities): HandlerContext {
  const caller = callers.target();
  if (!caller) throw new McpError(ErrorCode.InvalidRequest, `${method}: no client to relay it to`);
  // A 2026-07-28 client declares its capabilities per request: its request() refuses what it lacks (-32021).
  const declared = caller.era === 'modern' ? undefined : caller.clientCapabilities;
  if (declared !== undefined && declared[capability] === undefined) {
    throw new McpError(ErrorCode.MethodNotFound, `${method}: the client does not support ${capability}`);
  }
  return caller;
}

/**
 * Asks the caller. When Lookout itself answers instead of the client (a LookoutError: the question
 * goes into an InputRequiredResult, a capability is missing, an answer is invalid), the upstream gets
 * an error and the caller's call ends with that answer, whatever the upstream makes of the error.
 */
async function ask<T extends z.ZodType>(
  callers: Callers,
  request: { method: string; params?: Record<string, unknown> },
  capability: keyof ClientCapabilities,
  schema: T,
): Promise<z.output<T>> {
  const caller = callerFor(callers, request.method, capability);
  try {
    return await caller.request({ method: request.method, params: request.params ?? {} }, schema);
  } catch (error) {
    if (error instanceof LookoutError) {
      callers.stop(caller, error);
      // The upstream hears of it only once the call has ended: until then it may ask more questions,
      // which go into the same InputRequiredResult, and its own answer cannot overtake the stop.
      await callers.ended(caller);
    }
    throw error;
  }
}

/**
 * Answers the upstream's requests to its client by asking the calling client, through the tool API's
 * `request()`: whatever way that client is asked (a request on its session, or an
 * InputRequiredResult) is the relay's way too. Only what the connection declared is handled; the SDK
 * refuses the rest.
 */
export function relayToCallers(client: Client, declared: ClientCapabilities, callers: Callers): void {
  if (declared.sampling !== undefined) {
    client.setRequestHandler('sampling/createMessage', (request) =>
      ask(callers, request, 'sampling', CreateMessageResultSchema),
    );
  }
  if (declared.elicitation !== undefined) {
    client.setRequestHandler('elicitation/create', async (request) => {
      const params = request.params as { mode?: string; elicitationId?: string };
      if (params.mode !== 'url' || params.elicitationId === undefined) {
        return ask(callers, request, 'elicitation', ElicitResultSchema);
      }
      const elicitationId = params.elicitationId;
      const caller = callerFor(callers, request.method, 'elicitation');
      const elicitation = caller.clientCapabilities?.elicitation as { url?: unknown } | undefined;
      if (caller.clientCapabilities !== undefined && elicitation?.url === undefined) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `${request.method}: the client does not support URL mode`,
        );
      }
      callers.elicited(elicitationId, caller);
      const result = await ask(callers, request, 'elicitation', ElicitResultSchema);
      if (result.action !== 'accept') callers.elicitedBy(elicitationId);
      return result;
    });
    // The end of a URL-mode flow the user went through: told to the client that was asked.
    client.setNotificationHandler('notifications/elicitation/complete', async (notification) => {
      const { elicitationId } = notification.params as { elicitationId: string };
      await callers
        .elicitedBy(elicitationId)
        ?.notify({ method: notification.method, params: notification.params })
        .catch(() => undefined);
    });
  }
  if (declared.roots !== undefined) {
    client.setRequestHandler('roots/list', (request) =>
      ask(callers, request, 'roots', ListRootsResultSchema),
    );
  }
}
