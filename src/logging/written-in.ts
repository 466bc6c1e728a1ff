import type { Context } from '@opentelemetry/api';

/**
 * Where a record says in which context it was written, when that is not the active one: the access
 * line is written as its request ends, and naming the request's context on it costs less than making
 * that context active around the write. Never rendered (a symbol key), and cleared by the sink.
 */
export const writtenIn: unique symbol = Symbol('lookout.log.context');

/** The context a record names with `writtenIn`, if any. */
export function contextOf(record: object): Context | undefined {
  return (record as { [writtenIn]?: Context })[writtenIn];
}
