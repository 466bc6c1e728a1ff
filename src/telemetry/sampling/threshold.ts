import { createTraceState, type TraceState } from '@opentelemetry/api';

/**
 * Consistent probability sampling, as the OpenTelemetry TraceState probability-sampling spec defines
 * it: a span is sampled when its trace's 56-bit randomness R is at least the rejection threshold T,
 * and T travels in `tracestate` as `ot=th:<hex>` so that every later stage can compute adjusted counts.
 */
const randomnessBits = 56n;
const maxThreshold = 1n << randomnessBits;

/** The trace's randomness: `ot=rv:` when present, else the trace id's last 56 bits. */
export function randomnessOf(traceId: string, traceState: TraceState | undefined): bigint {
  const rv = otValues(traceState).get('rv');
  if (rv !== undefined && /^[0-9a-f]{14}$/.test(rv)) return BigInt(`0x${rv}`);
  return BigInt(`0x${traceId.slice(-14)}`);
}

/** T = (1 - p) · 2^56, so that P(R ≥ T) = p for uniformly random R. */
export function thresholdFor(probability: number): bigint {
  if (probability >= 1) return 0n;
  if (probability <= 0) return maxThreshold;
  const scale = 2 ** 52;
  return (maxThreshold * BigInt(Math.round((1 - probability) * scale))) / BigInt(scale);
}

export function isSampled(randomness: bigint, threshold: bigint): boolean {
  return threshold < maxThreshold && randomness >= threshold;
}

const halfBits = 28n;
const halfMask = (1n << halfBits) - 1n;

/**
 * A threshold in two 28-bit halves, so that a trace id's randomness is compared with it as two small
 * numbers read from the id's hex digits: no `BigInt` and no string is made per decision.
 */
export interface SplitThreshold {
  readonly value: bigint;
  readonly high: number;
  readonly low: number;
}

export function splitThreshold(threshold: bigint): SplitThreshold {
  return { value: threshold, high: Number(threshold >> halfBits), low: Number(threshold & halfMask) };
}

/** The number the hex digits of `text[from, to)` spell; at most 13 digits, so that it stays exact. */
function hexDigits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i) | 0x20;
    value = value * 16 + (code <= 0x39 ? code - 0x30 : code - 0x57);
  }
  return value;
}

/**
 * `isSampled(randomnessOf(traceId, undefined), threshold.value)`, for a valid (32 hex digit) trace id:
 * its last 14 digits are the randomness, the first 7 of them its high half.
 */
export function traceIdMeets(traceId: string, threshold: SplitThreshold): boolean {
  if (threshold.value >= maxThreshold) return false;
  const high = hexDigits(traceId, 18, 25);
  if (high !== threshold.high) return high > threshold.high;
  return hexDigits(traceId, 25, 32) >= threshold.low;
}

/** `th` encoding: 14 hex digits with trailing zeros dropped; `0` for always-sample. */
export function encodeThreshold(threshold: bigint): string {
  if (threshold === 0n) return '0';
  return threshold.toString(16).padStart(14, '0').replace(/0+$/, '');
}

export function decodeThreshold(th: string): bigint | undefined {
  if (!/^[0-9a-f]{1,14}$/.test(th)) return undefined;
  return BigInt(`0x${th.padEnd(14, '0')}`);
}

export function probabilityOf(threshold: bigint): number {
  return Number(maxThreshold - threshold) / Number(maxThreshold);
}

function otValues(traceState: TraceState | undefined): Map<string, string> {
  const ot = traceState?.get('ot');
  const values = new Map<string, string>();
  if (!ot) return values;
  for (const part of ot.split(';')) {
    const colon = part.indexOf(':');
    if (colon > 0) values.set(part.slice(0, colon), part.slice(colon + 1));
  }
  return values;
}

export function thresholdIn(traceState: TraceState | undefined): bigint | undefined {
  const th = otValues(traceState).get('th');
  return th === undefined ? undefined : decodeThreshold(th);
}

/** Trace states this module made, with the threshold each carries: stamping one again is free. */
const stamped = new WeakMap<TraceState, bigint>();
/** The last trace state made from none: most traces arrive without one, under a threshold that rarely moves. */
let fromNone: TraceState | undefined;

/** The trace state with `ot=th:` set to this threshold, keeping the other `ot` values and vendors' entries. */
export function withThreshold(traceState: TraceState | undefined, threshold: bigint): TraceState {
  const source = traceState ?? fromNone;
  if (source !== undefined && stamped.get(source) === threshold) return source;
  const values = otValues(traceState);
  values.set('th', encodeThreshold(threshold));
  const ot = [...values].map(([k, v]) => `${k}:${v}`).join(';');
  const result = (traceState ?? createTraceState()).set('ot', ot);
  stamped.set(result, threshold);
  if (traceState === undefined) fromNone = result;
  return result;
}
