/**
 * V8 settings the `lookout` command sets for itself once it runs, each unless node's own command line
 * already chose it.
 *
 * Allocation-site pretenuring: V8 watches which object literals make objects that outlive young-generation
 * collections, and allocates the objects of those literals in the old generation directly from then
 * on. With every call traced and exported, it chose literals on the per-call path: the old generation
 * grew by about 1 kB per call, to be marked over and over ([performance](../../docs/performance.md#pretenuring)).
 * A server's per-call objects die young, so Lookout lets them.
 */
const pretenuringFlag = /^--(no-)?allocation[-_]site[-_]pretenuring$/;

/** The flags to hand `v8.setFlagsFromString`, given node's command line (`process.execArgv`). */
export function runtimeV8Flags(execArgv: readonly string[]): string[] {
  return execArgv.some((arg) => pretenuringFlag.test(arg)) ? [] : ['--no-allocation-site-pretenuring'];
}
