import type { z } from 'zod';
import { LookoutError } from '../errors/catalog.ts';
import { isObject } from '../json/object.ts';
import type { InputRelay, InputRequest } from '../tools/api.ts';
import type { RequestStates, StateBinding } from './request-state.ts';

/** The client capability each input request needs (2026-07-28 servers must not ask for undeclared ones). */
export const capabilityFor: Record<string, string> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/** The -32021 refusal of a question the client did not declare it can answer; undefined when it did. */
export function undeclaredCapability(
  method: string,
  capabilities: Readonly<Record<string, unknown>>,
): LookoutError | undefined {
  const capability = capabilityFor[method];
  if (capability === undefined || capability in capabilities) return undefined;
  return new LookoutError('MISSING_CLIENT_CAPABILITY', capability, {
    requiredCapabilities: { [capability]: {} },
  });
}

/**
 * Thrown into a handler whose question has no answer yet: the handler stops, and the request is
 * answered with an InputRequiredResult. A LookoutError so the tool layer lets it through untouched.
 */
export class InputRequired extends LookoutError {
  constructor() {
    super('INPUT_NOT_DELIVERABLE');
  }
}

/**
 * One round of a 2026-07-28 multi-round request (tools/call, prompts/get, resources/read). The
 * handler runs again on every round: each `ctx.request()` it makes is answered from the answers of
 * earlier rounds (carried in the sealed requestState) or of this one (`inputResponses`); the first
 * unanswered ones end the round with an InputRequiredResult asking for them, all together when the
 * handler asked several at once. Nothing is parked between rounds, so any replica with the keys can
 * serve the next one.
 */
export class InputRound {
  readonly #answers: Record<string, unknown>;
  readonly #capabilities: Record<string, unknown>;
  readonly #binding: StateBinding;
  readonly #states: RequestStates;
  /** Answers this round's handler used, so the next round's state carries only those. */
  readonly #used: Record<string, unknown> = {};
  #asked: Record<string, InputRequest> = {};
  #count = 0;
  /** This round's `inputResponses` as the client sent them, for an upstream that asked itself. */
  readonly #responses: Record<string, unknown> | undefined;
  /** The upstream's requestState of the round before, and the one its latest answer carried. */
  readonly #upstreamState: string | undefined;
  #nextUpstreamState: string | undefined;

  private constructor(
    answers: Record<string, unknown>,
    capabilities: Record<string, unknown>,
    binding: StateBinding,
    states: RequestStates,
    relayed: { responses: Record<string, unknown> | undefined; upstreamState: string | undefined },
  ) {
    this.#responses = relayed.responses;
    this.#upstreamState = relayed.upstreamState;
    this.#answers = answers;
    this.#capabilities = capabilities;
    this.#binding = binding;
    this.#states = states;
  }

  /** The round a request's params describe; a requestState that does not verify is refused. */
  static open(
    params: { requestState?: unknown; inputResponses?: unknown },
    capabilities: Record<string, unknown>,
    binding: StateBinding,
    states: RequestStates,
  ): InputRound {
    let earlier: Record<string, unknown> = {};
    let upstreamState: string | undefined;
    if (params.requestState !== undefined) {
      const opened =
        typeof params.requestState === 'string' ? states.openState(params.requestState, binding) : undefined;
      if (!opened)
        throw new LookoutError(
          'INVALID_REQUEST_STATE',
          'it was altered, has expired or belongs to another request',
        );
      earlier = opened.answers;
      upstreamState = opened.relayed;
    }
    const responses = isObject(params.inputResponses) ? params.inputResponses : undefined;
    return new InputRound({ ...earlier, ...responses }, capabilities, binding, states, {
      responses,
      upstreamState,
    });
  }

  /** The round as a relay to an upstream that asks for input itself sees it. */
  relay(): InputRelay {
    return {
      inputResponses: this.#responses,
      upstreamState: this.#upstreamState,
      inputRequired: (inputRequests, upstreamState) => {
        for (const question of Object.values(inputRequests)) {
          const refusal = undeclaredCapability(question.method, this.#capabilities);
          if (refusal) return Promise.reject(refusal);
        }
        this.#asked = { ...inputRequests };
        this.#nextUpstreamState = upstreamState;
        return Promise.reject(new InputRequired());
      },
    };
  }

  /** `ctx.request()` of a modern request. */
  request<T extends z.ZodType>(
    request: InputRequest,
    schema: T,
    key: string | undefined,
  ): Promise<z.output<T>> {
    const name = key ?? `input-${++this.#count}`;
    if (name in this.#answers) {
      const parsed = schema.safeParse(this.#answers[name]);
      if (!parsed.success) {
        return Promise.reject(
          new LookoutError(
            'INVALID_PARAMS',
            `inputResponses.${name} is not a valid ${request.method} result`,
          ),
        );
      }
      this.#used[name] = this.#answers[name];
      return Promise.resolve(parsed.data);
    }
    const refusal = undeclaredCapability(request.method, this.#capabilities);
    if (refusal) return Promise.reject(refusal);
    this.#asked[name] = { method: request.method, params: request.params ?? {} };
    const stop = Promise.reject(new InputRequired());
    // A handler that asks several questions before awaiting them must not leave rejections unhandled.
    stop.catch(() => {});
    return stop;
  }

  /** The InputRequiredResult that ends this round. */
  result(): Record<string, unknown> {
    return {
      resultType: 'input_required',
      inputRequests: this.#asked,
      requestState: this.#states.seal(this.#binding, this.#used, this.#nextUpstreamState),
    };
  }
}
