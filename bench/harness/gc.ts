/** Garbage collections of one kind (`minor`, `major`, `incremental`, `weakcb`): how many, and their pauses summed. */
export interface GcKind {
  readonly count: number;
  readonly seconds: number;
}

export type GcTotals = Readonly<Record<string, GcKind>>;

const series = /^v8js_gc_duration(?:_seconds)?_(count|sum)\{[^}]*v8js_gc_type="(\w+)"[^}]*\} (\S+)$/gm;

/**
 * The collections a running Lookout has reported so far: its runtime instrumentation records each
 * V8 GC pause as `v8js.gc.duration`, which Lookout serves on `/metrics`.
 */
export async function gcTotals(metricsUrl: string): Promise<GcTotals> {
  const text = await (await fetch(metricsUrl)).text();
  const totals: Record<string, { count: number; seconds: number }> = {};
  for (const [, field, kind, value] of text.matchAll(series)) {
    if (kind === undefined) continue;
    const entry = totals[kind] ?? { count: 0, seconds: 0 };
    totals[kind] = entry;
    if (field === 'count') entry.count += Number(value);
    else entry.seconds += Number(value);
  }
  return totals;
}

/** What happened between two readings. */
export function gcBetween(before: GcTotals, after: GcTotals): GcTotals {
  return Object.fromEntries(
    Object.entries(after).map(([kind, end]) => [
      kind,
      { count: end.count - (before[kind]?.count ?? 0), seconds: end.seconds - (before[kind]?.seconds ?? 0) },
    ]),
  );
}

/** `97 minor (mean 9.8 ms), 6 major (mean 21.0 ms)`; kinds that did not occur are left out. */
export function describeGc(gc: GcTotals): string {
  return ['minor', 'major', 'incremental']
    .flatMap((kind) => {
      const { count = 0, seconds = 0 } = gc[kind] ?? {};
      return count > 0 ? [`${count} ${kind} (mean ${((seconds / count) * 1000).toFixed(1)} ms)`] : [];
    })
    .join(', ');
}
