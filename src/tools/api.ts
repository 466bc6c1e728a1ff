import type {
  CallToolResult,
  GetPromptResult,
  LoggingLevel,
  ReadResourceResult,
  ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';

/** A question for the client: `elicitation/create`, `sampling/createMessage` or `roots/list`. */
export interface InputRequest {
  readonly method: string;
  readonly params?: Record<string, unknown>;
}

/**
 * A 2026-07-28 request's round as the gateway passes it on to a 2026-07-28 upstream that asks for
 * input itself: the upstream gets the client's answers and its own requestState of the round before,
 * and its InputRequiredResult goes to the client with the upstream's own keys.
 */
export interface InputRelay {
  /** The client's `inputResponses` of this round, as sent. */
  readonly inputResponses: Readonly<Record<string, unknown>> | undefined;
  /** The upstream's requestState from the round before, unsealed from Lookout's own. */
  readonly upstreamState: string | undefined;
  /**
   * Ends the request with an InputRequiredResult asking the upstream's questions under its keys, its
   * requestState sealed into Lookout's (the client can neither read nor change it). Rejects with the
   * error that ends the round, or -32021 when a question needs a capability the client did not declare.
   */
  inputRequired(
    inputRequests: Readonly<Record<string, InputRequest>>,
    upstreamState: string | undefined,
  ): Promise<never>;
}

/** A notification for the client that none of the other context methods sends. */
export interface ClientNotice {
  readonly method: string;
  readonly params?: Record<string, unknown>;
}

/** What a handler gets besides its arguments. Nothing in it touches HTTP. */
export interface HandlerContext {
  /** Aborted when the client cancels the request, disconnects, or the session ends. */
  readonly signal: AbortSignal;
  /** The session of a 2025 client that has one; a 2026-07-28 request never has one. */
  readonly sessionId: string | undefined;
  /** `legacy` for 2025-11-25 and earlier clients, `modern` for 2026-07-28 ones. */
  readonly era: 'legacy' | 'modern';
  /** The authenticated subject the request came from; undefined without auth. */
  readonly subject: string | undefined;
  /** The authenticated subject's scopes; undefined without auth. */
  readonly scopes: readonly string[] | undefined;
  /**
   * The capabilities the client declared: in the request's `_meta` (2026-07-28) or at `initialize`
   * (2025); undefined when unknown (2025 stateless mode).
   */
  readonly clientCapabilities: Readonly<Record<string, unknown>> | undefined;
  /** Sends `notifications/progress` when the client asked for progress; otherwise does nothing. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /**
   * Sends `notifications/message` to the client, honouring the level it chose: with
   * `logging/setLevel` (legacy), or per request in `_meta` (modern; nothing is sent without one).
   */
  log(level: LoggingLevel, data: unknown, logger?: string): Promise<void>;
  /** The level the client chose with `logging/setLevel` (legacy sessions); undefined otherwise. */
  readonly logLevel: LoggingLevel | undefined;
  /**
   * Sends a notification to the client: with the request's answer while it runs, afterwards on the
   * session's own stream (a legacy session's GET stream); nothing reaches a client without either.
   */
  notify(notification: ClientNotice): Promise<void>;
  /**
   * Asks the client (sampling, elicitation, roots) and resolves with its answer. A legacy client gets
   * a server→client request. A modern client gets an InputRequiredResult and retries with the answer:
   * the handler then runs again from the start and this call resolves at once, so what a handler does
   * before its questions must be safe to repeat. `key` names the question in `inputRequests` (by
   * default `input-1`, `input-2`… in the order asked).
   */
  request<T extends z.ZodType>(
    request: InputRequest,
    resultSchema: T,
    options?: { readonly key?: string },
  ): Promise<z.output<T>>;
  /**
   * Set on a 2026-07-28 request that may end with an InputRequiredResult (not on a task's): opens the
   * request's round, for a call relayed to a 2026-07-28 upstream.
   */
  readonly inputRelay?: () => InputRelay;
}

type ObjectSchema = z.ZodObject<z.ZodRawShape>;

export interface ToolDefinition<
  In extends ObjectSchema = ObjectSchema,
  Out extends ObjectSchema = ObjectSchema,
> {
  readonly kind: 'tool';
  readonly name: string;
  readonly title?: string;
  readonly description: string;
  readonly input: In;
  /** When given, the handler returns the structured result, validated against this schema. */
  readonly output?: Out;
  readonly annotations?: ToolAnnotations;
  /**
   * Opts a long-running tool into the tasks extension (2026-07-28): a client that declares the
   * extension gets a task to poll instead of waiting. `required`: clients without it are refused.
   */
  readonly task?: 'optional' | 'required';
  /**
   * With `task`: the questions (`ctx.request()`) the handler asks before it first waits on anything
   * else are InputRequiredResult rounds of the call itself, and the call becomes a task only once
   * they are answered (later questions park the task as usual). Without it a task tool is a task from
   * its first round. Like any round, what the handler does before those questions is repeated.
   */
  readonly inputBeforeTask?: boolean;
  readonly handler: (
    args: z.output<In>,
    context: HandlerContext,
  ) => Promise<ToolReturn<Out>> | ToolReturn<Out>;
}

/** A string becomes one text block; a full `CallToolResult` passes as is. */
export type ToolReturn<Out extends ObjectSchema> = string | CallToolResult | z.input<Out>;

/** Thrown by a handler to report a tool error (`isError: true`) with exactly this message. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

export type ResourceContents = ReadResourceResult['contents'];

export interface ResourceDefinition extends Subscribable {
  readonly kind: 'resource';
  readonly uri: string;
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly mimeType?: string;
  /** Its content changes from one read to the next: 2026-07-28 clients are told not to cache it. */
  readonly uncacheable?: boolean;
  /** A string is text, a Uint8Array is a blob; both take the resource's uri and mimeType. */
  readonly read: (
    context: HandlerContext,
  ) => Promise<string | Uint8Array | ResourceContents> | string | Uint8Array | ResourceContents;
}

export type Completer = (
  value: string,
  context: { arguments: Record<string, string>; caller: HandlerContext },
) => Promise<string[]> | string[];

/**
 * Forwards `resources/subscribe` for a resource served from elsewhere (an upstream): `updated` sends
 * `notifications/resources/updated` to the subscribing client.
 */
export interface Subscribable {
  readonly subscribe?: (
    uri: string,
    context: HandlerContext,
    updated: (uri: string) => void,
  ) => Promise<void>;
  readonly unsubscribe?: (uri: string, context: HandlerContext) => Promise<void>;
}

export interface ResourceTemplateDefinition extends Subscribable {
  readonly kind: 'resourceTemplate';
  /** RFC 6570 URI template, e.g. `notes://{id}`. */
  readonly uriTemplate: string;
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly mimeType?: string;
  readonly complete?: Readonly<Record<string, Completer>>;
  readonly read: (
    uri: string,
    variables: Record<string, string | string[]>,
    context: HandlerContext,
  ) => Promise<string | Uint8Array | ResourceContents> | string | Uint8Array | ResourceContents;
}

export interface PromptDefinition<Args extends ObjectSchema = ObjectSchema> {
  readonly kind: 'prompt';
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  /** An object of string fields; `.describe()` gives each argument its description. */
  readonly args?: Args;
  readonly complete?: Readonly<Record<string, Completer>>;
  /** A string becomes one user text message. */
  readonly get: (
    args: z.output<Args>,
    context: HandlerContext,
  ) => Promise<string | GetPromptResult> | string | GetPromptResult;
}

export type Definition =
  | ToolDefinition<ObjectSchema, ObjectSchema>
  | ResourceDefinition
  | ResourceTemplateDefinition
  | PromptDefinition;

export function defineTool<In extends ObjectSchema, Out extends ObjectSchema = ObjectSchema>(
  definition: Omit<ToolDefinition<In, Out>, 'kind'>,
): ToolDefinition<In, Out> {
  return { kind: 'tool', ...definition };
}

export function defineResource(definition: Omit<ResourceDefinition, 'kind'>): ResourceDefinition {
  return { kind: 'resource', ...definition };
}

export function defineResourceTemplate(
  definition: Omit<ResourceTemplateDefinition, 'kind'>,
): ResourceTemplateDefinition {
  return { kind: 'resourceTemplate', ...definition };
}

export function definePrompt<Args extends ObjectSchema>(
  definition: Omit<PromptDefinition<Args>, 'kind'>,
): PromptDefinition<Args> {
  return { kind: 'prompt', ...definition };
}
