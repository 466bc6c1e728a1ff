import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/**
 * HTTP server spans of the MCP endpoint start before the request body says which MCP method and tool
 * it carries, and so before the sampling decision can be made. Such a span starts sampled
 * "provisionally"; the MCP span inside it makes the real decision and records it here, and the export
 * side keeps or drops the provisional span and its other children accordingly.
 */
export interface RootState {
  decision: 'keep' | 'drop' | undefined;
  /** The threshold the decision was made with, for the exported spans' `ot=th`. */
  threshold: bigint | undefined;
  /** Children that ended before the decision was known. */
  readonly buffered: ReadableSpan[];
  /** Children still running: a framework's span can end after the HTTP span it belongs to. */
  readonly open: Set<string>;
  rootEnded: boolean;
}

/** Marks a provisional root among a span's attributes (the sampler cannot see span ids). */
export const provisionalAttribute = 'lookout.sampling.provisional';

export class ProvisionalRoots {
  readonly #roots = new Map<string, RootState>();
  readonly #members = new Map<string, string>();
  readonly #maxRoots: number;

  constructor(maxRoots = 10_000) {
    this.#maxRoots = maxRoots;
  }

  /** False when too many roots are pending (spans that never end): the span is then exported as usual. */
  addRoot(spanId: string): boolean {
    if (this.#roots.size >= this.#maxRoots) return false;
    this.#roots.set(spanId, {
      decision: undefined,
      threshold: undefined,
      buffered: [],
      open: new Set(),
      rootEnded: false,
    });
    return true;
  }

  /** Registers a child of a pending root (or of one of its children). */
  addMember(spanId: string, parentSpanId: string): void {
    const root = this.#roots.has(parentSpanId) ? parentSpanId : this.#members.get(parentSpanId);
    if (root === undefined) return;
    this.#members.set(spanId, root);
    this.#roots.get(root)?.open.add(spanId);
  }

  /** The pending root a span belongs to, if any. */
  rootOf(spanId: string): string | undefined {
    return this.#roots.has(spanId) ? spanId : this.#members.get(spanId);
  }

  get(rootId: string): RootState | undefined {
    return this.#roots.get(rootId);
  }

  /** Records an MCP request's decision; one kept request keeps the exchange that carried it. */
  decide(rootId: string, keep: boolean, threshold: bigint): void {
    const state = this.#roots.get(rootId);
    if (!state || state.decision === 'keep') return;
    state.decision = keep ? 'keep' : 'drop';
    state.threshold = threshold;
  }

  /** The root has ended; it is forgotten once its last child has ended too. */
  rootEnded(rootId: string): void {
    const state = this.#roots.get(rootId);
    if (!state) return;
    state.rootEnded = true;
    if (state.open.size === 0) this.#roots.delete(rootId);
  }

  memberEnded(spanId: string): void {
    const rootId = this.#members.get(spanId);
    if (rootId === undefined) return;
    this.#members.delete(spanId);
    const state = this.#roots.get(rootId);
    if (!state) return;
    state.open.delete(spanId);
    if (state.rootEnded && state.open.size === 0) this.#roots.delete(rootId);
  }

  get pending(): number {
    return this.#roots.size;
  }
}
