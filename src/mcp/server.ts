import type { CallToolResult, LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import { context as otelContext } from '@opentelemetry/api';
import { z } from 'zod';
import { LookoutError } from '../errors/catalog.ts';
import { isObject } from '../json/object.ts';
import type { HandlerContext } from '../tools/api.ts';
import type { Catalog } from '../tools/catalog.ts';
import { type Deadline, Deadlines } from './deadlines.ts';
import { Dispatcher, type RequestContext, type SessionState, type UnexpectedErrorSink } from './dispatch.ts';
import { metaKey, supportedVersions } from './era.ts';
import { InputRequired, InputRound, undeclaredCapability } from './input.ts';
import { negotiatedVersion } from './negotiation.ts';
import type { RequestStates } from './request-state.ts';
import { type TaskHandle, type TaskStore, tasksExtension } from './tasks.ts';

type Extra = RequestContext;

const callDeadlines = new Deadlines();

export interface ServerIdentity {
  readonly name: string;
  readonly version: string;
  readonly instructions?: string;
}

/** Each handler validates its own params, so that bad params answer -32602 with the failing path. */
const paramsSchemas = {
  initialize: z.looseObject({
    protocolVersion: z.string(),
    capabilities: z.looseObject({}),
    clientInfo: z.looseObject({ name: z.string(), version: z.string() }),
  }),
  callTool: z.looseObject({ name: z.string(), arguments: z.record(z.string(), z.unknown()).optional() }),
  readResource: z.looseObject({ uri: z.string() }),
  getPrompt: z.looseObject({ name: z.string(), arguments: z.record(z.string(), z.string()).optional() }),
  complete: z.looseObject({
    ref: z.looseObject({ type: z.string(), name: z.string().optional(), uri: z.string().optional() }),
    argument: z.looseObject({ name: z.string(), value: z.string() }),
    context: z.looseObject({ arguments: z.record(z.string(), z.string()).optional() }).optional(),
  }),
  subscribe: z.looseObject({ uri: z.string() }),
  task: z.looseObject({ taskId: z.string() }),
  setLevel: z.looseObject({
    level: z.enum(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']),
  }),
};

type CallToolParams = z.output<typeof paramsSchemas.callTool>;

function paramsOf<T extends z.ZodType>(
  schema: T,
  request: { method: string; params?: unknown },
): z.output<T> {
  const parsed = schema.safeParse(request.params ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({
    path: ['params', ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  throw new LookoutError(
    'INVALID_PARAMS',
    `${request.method}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    { issues },
  );
}

/**
 * A `tools/call`'s params as they came, when well formed: the call's hot path takes them without the
 * copy a schema parse makes. Anything else gets the schema's error, with its path.
 */
function callToolParams(request: { method: string; params?: unknown }): CallToolParams {
  const params = request.params;
  if (
    isObject(params) &&
    typeof params.name === 'string' &&
    (params.arguments === undefined || isObject(params.arguments))
  )
    return params as CallToolParams;
  return paramsOf(paramsSchemas.callTool, request);
}

const resolved = Promise.resolve();

/** RFC 5424 severities in the order MCP lists them, least severe first. */
const levelRank: Record<LoggingLevel, number> = {
  debug: 0,
  info: 1,
  notice: 2,
  warning: 3,
  error: 4,
  critical: 5,
  alert: 6,
  emergency: 7,
};

/** The level a request asked for: its session's (legacy), or its own `_meta` one (modern; none means no logs). */
function logLevelOf(session: SessionState | undefined, extra: Extra): LoggingLevel | 'off' | undefined {
  if (session?.era !== 'modern') return session?.logLevel;
  const level = extra.meta?.[metaKey.logLevel];
  return typeof level === 'string' && level in levelRank ? (level as LoggingLevel) : 'off';
}

function contextOf(
  session: SessionState | undefined,
  extra: Extra,
  round?: () => InputRound,
): HandlerContext {
  const progressToken = extra.meta?.progressToken;
  const era = session?.era ?? 'legacy';
  const threshold = logLevelOf(session, extra);
  const capabilities = extra.meta?.[metaKey.clientCapabilities];
  return {
    signal: extra.signal,
    sessionId: session?.sessionId,
    era,
    subject: extra.authInfo?.clientId,
    scopes: extra.authInfo?.scopes,
    clientCapabilities:
      era === 'modern' ? (isObject(capabilities) ? capabilities : undefined) : session?.clientCapabilities,
    progress:
      progressToken === undefined
        ? () => resolved
        : (progress, total, message) =>
            extra.sendNotification({
              method: 'notifications/progress',
              params: {
                progressToken,
                progress,
                ...(total !== undefined && { total }),
                ...(message !== undefined && { message }),
              },
            }),
    log: (level: LoggingLevel, data: unknown, logger?: string) =>
      threshold === 'off' || (threshold !== undefined && levelRank[level] < levelRank[threshold])
        ? resolved
        : extra.sendNotification({
            method: 'notifications/message',
            params: { level, data, ...(logger !== undefined && { logger }) },
          }),
    logLevel: era === 'legacy' ? session?.logLevel : undefined,
    notify: (notification) =>
      extra.sendNotification(notification as { method: string; params?: Record<string, unknown> }),
    request: (request, resultSchema, options) => {
      if (era === 'legacy') {
        // A session knows what its client declared at initialize; asking for anything else breaks
        // the negotiation (the client may answer with an empty result, as if it had been asked).
        const declared = session?.clientCapabilities;
        const refusal = declared && undeclaredCapability(request.method, declared);
        return refusal ? Promise.reject(refusal) : extra.sendRequest(request, resultSchema);
      }
      if (round) return round().request(request, resultSchema, options?.key);
      return Promise.reject(new LookoutError('INPUT_NOT_DELIVERABLE', extra.requestId.toString()));
    },
    // Called only by a call relayed to a 2026-07-28 upstream: the round is opened then, not before.
    ...(round && { inputRelay: () => round().relay() }),
  };
}

/** Per-call rules applied before a tool runs: who may call it and how long it may take. */
export interface ToolPolicy {
  /** Scopes a tool needs, when the request was authenticated. */
  readonly scopesFor: (tool: string) => readonly string[];
  readonly timeoutSecondsFor: (tool: string) => number;
}

/** Runs a tool call with its own deadline: on timeout the handler's signal is aborted and the call fails. */
async function callWithDeadline(
  catalog: Catalog,
  name: string,
  args: Record<string, unknown> | undefined,
  context: HandlerContext,
  seconds: number,
): Promise<CallToolResult> {
  const controller = new AbortController();
  const forward = () => controller.abort(context.signal.reason);
  context.signal.addEventListener('abort', forward, { once: true });
  let deadline: Deadline | undefined;
  // The tool's abort listeners run in its call's context, as they would on any other abort.
  const callContext = otelContext.active();
  const timedOut = new Promise<never>((_, reject) => {
    deadline = callDeadlines.start(seconds * 1000, () =>
      otelContext.with(callContext, () => {
        const error = new LookoutError('TOOL_TIMEOUT', `${name} took longer than ${seconds} s`);
        controller.abort(error);
        reject(error);
      }),
    );
  });
  try {
    return await Promise.race([
      catalog.callTool(name, args, { ...context, signal: controller.signal }),
      timedOut,
    ]);
  } finally {
    deadline?.cancel();
    context.signal.removeEventListener('abort', forward);
  }
}

/** Capabilities a 2026-07-28 client is offered: list changes and resource updates arrive on subscriptions/listen. */
export const modernCapabilities = {
  tools: { listChanged: true },
  resources: { listChanged: true, subscribe: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
  extensions: { [tasksExtension]: {} },
};

function capabilitiesOf(extra: Extra): Record<string, unknown> {
  const capabilities = extra.meta?.[metaKey.clientCapabilities];
  return isObject(capabilities) ? capabilities : {};
}

function declaresTasks(capabilities: Record<string, unknown>): boolean {
  return isObject(capabilities.extensions) && tasksExtension in capabilities.extensions;
}

const needsTasks = () =>
  new LookoutError('MISSING_CLIENT_CAPABILITY', tasksExtension, {
    requiredCapabilities: { extensions: { [tasksExtension]: {} } },
  });

/** The context of a tool running as a task: no stream to report on, questions parked on the task. */
function taskContext(
  handle: TaskHandle,
  capabilities: Record<string, unknown>,
  subject: string | undefined,
): HandlerContext {
  return {
    signal: handle.signal,
    sessionId: undefined,
    era: 'modern',
    subject,
    scopes: undefined,
    clientCapabilities: capabilities,
    progress: () => resolved,
    log: () => resolved,
    logLevel: undefined,
    notify: () => resolved,
    request: (request, schema, options) => handle.request(request, schema, options?.key),
  };
}

interface RoundTarget {
  readonly method: string;
  readonly name: string;
  readonly args: unknown;
  readonly params: Record<string, unknown>;
}

/** The round a modern request's params describe, bound to what it asks for and who asks. */
function roundOf(extra: Extra, states: RequestStates, target: RoundTarget): InputRound {
  return InputRound.open(
    target.params,
    capabilitiesOf(extra),
    {
      method: target.method,
      name: target.name,
      args: target.args,
      principal: extra.authInfo?.clientId ?? '',
    },
    states,
  );
}

/**
 * Runs a handler that may ask the client for input. Legacy requests ask with server→client requests;
 * a modern request runs one round, which ends with an InputRequiredResult while questions are open.
 */
async function inRounds<R>(
  session: SessionState | undefined,
  extra: Extra,
  states: RequestStates,
  target: RoundTarget,
  run: (context: HandlerContext) => Promise<R>,
): Promise<R | Record<string, unknown>> {
  if (session?.era !== 'modern') return run(contextOf(session, extra));
  // Most calls never ask: the round is opened when the handler first does, unless the request
  // continues an earlier one, whose requestState is checked before the handler runs.
  const params = target.params;
  let round =
    params.requestState === undefined && params.inputResponses === undefined
      ? undefined
      : roundOf(extra, states, target);
  const opened = () => {
    round ??= roundOf(extra, states, target);
    return round;
  };
  try {
    return await run(contextOf(session, extra, opened));
  } catch (error) {
    if (error instanceof InputRequired && round !== undefined) return round.result();
    throw error;
  }
}

/**
 * A task tool that gathers input first (`inputBeforeTask`). Its handler starts as the task's, but
 * while the call is still open its questions are answered from the call's rounds, and an open one
 * ends the call with an InputRequiredResult (the task, which the client never saw, is forgotten).
 * Once the handler waits on anything else, the call answers with the task; later questions park it.
 */
async function taskAfterInput(
  tasks: TaskStore,
  round: InputRound,
  owner: string,
  capabilities: Record<string, unknown>,
  run: (context: HandlerContext) => Promise<CallToolResult>,
): Promise<Record<string, unknown>> {
  let callOpen = true;
  let asked: () => void = () => {};
  const question = new Promise<'input'>((resolve) => {
    asked = () => resolve('input');
  });
  const created = tasks.create(owner, capabilities, (handle) => {
    const context = taskContext(handle, capabilities, owner || undefined);
    return run({
      ...context,
      request: (request, schema, options) => {
        if (!callOpen) return context.request(request, schema, options);
        const answer = round.request(request, schema, options?.key);
        answer.catch((error: unknown) => {
          if (error instanceof InputRequired) asked();
        });
        return answer;
      },
    });
  });
  // Answered questions resolve in microtasks, which all run before an immediate: by then the handler
  // has either asked an open question or reached its first other wait (or its end).
  const next = await Promise.race([
    question,
    new Promise<'task'>((resolve) => setImmediate(resolve, 'task')),
  ]);
  callOpen = false;
  if (next === 'task') return created;
  tasks.discard(String(created.taskId));
  return round.result();
}

/**
 * Builds the process's one dispatcher, which serves every session (and, stateless, every request) of
 * both eras; what a handler keeps per session it keeps in the session's state (`extra.session`).
 */
export function createProtocolServer(
  catalog: Catalog,
  identity: ServerIdentity,
  policy: ToolPolicy,
  states: RequestStates,
  tasks: TaskStore,
  onUnexpected: UnexpectedErrorSink,
  /** Stateless mode has no stream for `notifications/resources/updated`: subscriptions are not offered. */
  stateless = false,
): Dispatcher {
  const capabilities = {
    tools: { listChanged: true },
    resources: { listChanged: true, ...(!stateless && { subscribe: true }) },
    prompts: { listChanged: true },
    logging: {},
    completions: {},
  };
  const serverInfo = { name: identity.name, version: identity.version };
  const dispatcher = new Dispatcher((request) => {
    paramsOf(paramsSchemas.initialize, request);
    return {
      protocolVersion: negotiatedVersion({ kind: 'request', message: request }),
      capabilities,
      serverInfo,
      ...(identity.instructions !== undefined && { instructions: identity.instructions }),
    };
  }, onUnexpected);
  dispatcher.handle('server/discover', (_request, extra) => {
    if (extra.session.era !== 'modern') throw new LookoutError('METHOD_NOT_FOUND', 'server/discover');
    return {
      supportedVersions: [...supportedVersions],
      capabilities: modernCapabilities,
      ...(identity.instructions !== undefined && { instructions: identity.instructions }),
    };
  });
  dispatcher.handle('logging/setLevel', async (request, extra) => {
    const { level } = paramsOf(paramsSchemas.setLevel, request);
    extra.session.logLevel = level;
    await catalog.setLogLevel(level, contextOf(extra.session, extra));
    return {};
  });

  dispatcher.handle('tools/list', () => catalog.listTools());
  dispatcher.handle('tools/call', (request, extra) => {
    const params = callToolParams(request);
    const scopes = extra.authInfo?.scopes;
    if (scopes !== undefined) {
      const missing = policy.scopesFor(params.name).filter((scope) => !scopes.includes(scope));
      if (missing.length > 0)
        throw new LookoutError('TOOL_FORBIDDEN', `${params.name} needs ${missing.join(' ')}`);
    }
    const session = extra.session;
    const support = session.era === 'modern' ? catalog.taskSupportOf(params.name) : undefined;
    if (support !== undefined) {
      const capabilities = capabilitiesOf(extra);
      if (declaresTasks(capabilities)) {
        const owner = extra.authInfo?.clientId ?? '';
        const run = (context: HandlerContext) =>
          callWithDeadline(
            catalog,
            params.name,
            params.arguments,
            context,
            policy.timeoutSecondsFor(params.name),
          );
        if (catalog.inputBeforeTask(params.name)) {
          const target = { method: 'tools/call', name: params.name, args: params.arguments, params };
          return taskAfterInput(tasks, roundOf(extra, states, target), owner, capabilities, run);
        }
        return tasks.create(owner, capabilities, (handle) =>
          run(taskContext(handle, capabilities, extra.authInfo?.clientId)),
        );
      }
      if (support === 'required') throw needsTasks();
    }
    const target = { method: 'tools/call', name: params.name, args: params.arguments, params };
    return inRounds(session, extra, states, target, (context) =>
      callWithDeadline(
        catalog,
        params.name,
        params.arguments,
        context,
        policy.timeoutSecondsFor(params.name),
      ),
    );
  });
  // The tasks extension is modern only: a legacy client is not offered it and finds no such methods.
  const taskAnswers: Record<string, (id: string, owner: string, params: Record<string, unknown>) => object> =
    {
      'tasks/get': (id, owner) => tasks.get(id, owner),
      'tasks/update': (id, owner, params) =>
        tasks.update(id, owner, isObject(params.inputResponses) ? params.inputResponses : {}),
      'tasks/cancel': (id, owner) => tasks.cancel(id, owner),
    };
  for (const [method, answer] of Object.entries(taskAnswers)) {
    dispatcher.handle(method, (request, extra) => {
      if (extra.session.era !== 'modern') throw new LookoutError('METHOD_NOT_FOUND', request.method);
      if (!declaresTasks(capabilitiesOf(extra))) throw needsTasks();
      const params = paramsOf(paramsSchemas.task, request);
      return answer(params.taskId, extra.authInfo?.clientId ?? '', params);
    });
  }
  dispatcher.handle('resources/list', (_request, extra) =>
    catalog.listResources(contextOf(extra.session, extra)),
  );
  dispatcher.handle('resources/templates/list', () => catalog.listResourceTemplates());
  dispatcher.handle('resources/read', (request, extra) => {
    const params = paramsOf(paramsSchemas.readResource, request);
    const target = { method: 'resources/read', name: params.uri, args: {}, params };
    return inRounds(extra.session, extra, states, target, (context) =>
      catalog.readResource(params.uri, context),
    );
  });
  dispatcher.handle('resources/subscribe', async (request, extra) => {
    if (stateless) throw new LookoutError('METHOD_NOT_FOUND', request.method);
    const { uri } = paramsOf(paramsSchemas.subscribe, request);
    const session = extra.session;
    const updated = (changed: string) =>
      void extra
        .sendNotification({ method: 'notifications/resources/updated', params: { uri: changed } })
        .catch(() => undefined);
    await catalog.subscribe(uri, contextOf(session, extra), updated);
    session.subscriptions ??= new Set();
    session.subscriptions.add(uri);
    return {};
  });
  dispatcher.handle('resources/unsubscribe', async (request, extra) => {
    const { uri } = paramsOf(paramsSchemas.subscribe, request);
    const session = extra.session;
    await catalog.unsubscribe(uri, contextOf(session, extra));
    session.subscriptions?.delete(uri);
    return {};
  });
  dispatcher.handle('prompts/list', () => catalog.listPrompts());
  dispatcher.handle('prompts/get', (request, extra) => {
    const params = paramsOf(paramsSchemas.getPrompt, request);
    const target = { method: 'prompts/get', name: params.name, args: params.arguments, params };
    return inRounds(extra.session, extra, states, target, (context) =>
      catalog.getPrompt(params.name, params.arguments, context),
    );
  });
  dispatcher.handle('completion/complete', (request, extra) => {
    const params = paramsOf(paramsSchemas.complete, request);
    return catalog.complete(
      params.ref,
      params.argument,
      params.context?.arguments ?? {},
      contextOf(extra.session, extra),
    );
  });
  return dispatcher;
}
