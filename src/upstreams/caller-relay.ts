import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  type ClientCapabilities,
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ElicitResultSchema,
  ErrorCode,
  ListRootsRequestSchema,
  ListRootsResultSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
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
    try {
      return await work();
    } finally {
      this.#running.splice(this.#running.indexOf(caller), 1);
    }
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
  const declared = caller.clientCapabilities;
  if (declared !== undefined && declared[capability] === undefined) {
    throw new McpError(ErrorCode.MethodNotFound, `${method}: the client does not support ${capability}`);
  }
  return caller;
}

/**
 * Answers the upstream's requests to its client by asking the calling client, through the tool API's
 * `request()`: whatever way that client is asked (a request on its session) is the relay's way too.
 * Only what the connection declared is handled; the SDK refuses the rest.
 */
export function relayToCallers(client: Client, declared: ClientCapabilities, callers: Callers): void {
  if (declared.sampling !== undefined) {
    client.setRequestHandler(CreateMessageRequestSchema, (request) =>
      callerFor(callers, request.method, 'sampling').request(
        { method: request.method, params: request.params },
        CreateMessageResultSchema,
      ),
    );
  }
  if (declared.elicitation !== undefined) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      const caller = callerFor(callers, request.method, 'elicitation');
      const params = request.params;
      if (params.mode === 'url') {
        const elicitation = caller.clientCapabilities?.elicitation as { url?: unknown } | undefined;
        if (caller.clientCapabilities !== undefined && elicitation?.url === undefined) {
          throw new McpError(
            ErrorCode.InvalidParams,
            `${request.method}: the client does not support URL mode`,
          );
        }
        callers.elicited(params.elicitationId, caller);
      }
      const result = await caller.request({ method: request.method, params }, ElicitResultSchema);
      if (params.mode === 'url' && result.action !== 'accept') callers.elicitedBy(params.elicitationId);
      return result;
    });
    // The end of a URL-mode flow the user went through: told to the client that was asked.
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, async (notification) => {
      await callers
        .elicitedBy(notification.params.elicitationId)
        ?.notify({ method: notification.method, params: notification.params })
        .catch(() => undefined);
    });
  }
  if (declared.roots !== undefined) {
    client.setRequestHandler(ListRootsRequestSchema, (request) =>
      callerFor(callers, request.method, 'roots').request(
        { method: request.method, params: request.params },
        ListRootsResultSchema,
      ),
    );
  }
}
