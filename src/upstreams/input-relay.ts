import { type Client, isInputRequiredResult } from '@modelcontextprotocol/client';
import type { HandlerContext, InputRelay, InputRequest } from '../tools/api.ts';
import { isModern } from './era-negotiation.ts';

/**
 * How a call reaches a 2026-07-28 upstream for a 2026-07-28 caller: the caller's round goes on as it
 * is (its answers, keyed as the upstream asked, and the upstream's own requestState), and an
 * InputRequiredResult comes back to Lookout instead of being answered by the 2.x client's handlers.
 * For any other pairing the client answers an upstream's questions through those handlers (see
 * caller-relay.ts): a 2025 upstream's questions carry no key to pass on.
 */
export interface PassedRound {
  readonly params: { inputResponses?: Record<string, unknown>; requestState?: string };
  readonly options: { allowInputRequired?: true };
}

/** Nothing passed on: shared, as most calls pass nothing and callers only spread it. */
const nothingPassed: PassedRound = { params: {}, options: {} };

export function passedRound(client: Client, caller: HandlerContext): PassedRound {
  if (!isModern(client)) return nothingPassed;
  const relay = caller.inputRelay?.();
  if (!relay) return nothingPassed;
  return {
    params: {
      ...(relay.inputResponses !== undefined && { inputResponses: { ...relay.inputResponses } }),
      ...(relay.upstreamState !== undefined && { requestState: relay.upstreamState }),
    },
    options: { allowInputRequired: true },
  };
}

/**
 * The upstream's answer as the caller gets it: an InputRequiredResult ends the caller's round with the
 * upstream's questions under the upstream's keys (see `InputRelay`); any other answer as it is.
 */
export async function answerOf<T>(result: T, caller: HandlerContext): Promise<T> {
  if (!isInputRequiredResult(result)) return result;
  const relay = (caller.inputRelay as () => InputRelay)();
  const asked = (result as { inputRequests?: Record<string, InputRequest> }).inputRequests ?? {};
  return relay.inputRequired(asked, (result as { requestState?: string }).requestState);
}
