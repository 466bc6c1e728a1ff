import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Definition } from './api.ts';

const kinds = new Set(['tool', 'resource', 'resourceTemplate', 'prompt']);

function isDefinition(value: unknown): value is Definition {
  return (
    typeof value === 'object' && value !== null && kinds.has((value as { kind?: unknown }).kind as string)
  );
}

function collect(value: unknown, into: Definition[]): void {
  if (isDefinition(value)) into.push(value);
  else if (Array.isArray(value)) for (const item of value) collect(item, into);
}

/**
 * Imports a user's module and returns the definitions it exports: the default export and every named
 * export that is a definition made with defineTool/defineResource/… or an array of them.
 */
export async function loadDefinitions(modulePath: string): Promise<Definition[]> {
  const url = pathToFileURL(isAbsolute(modulePath) ? modulePath : resolve(modulePath)).href;
  const exports = (await import(url)) as Record<string, unknown>;
  const definitions: Definition[] = [];
  for (const value of Object.values(exports)) collect(value, definitions);
  if (definitions.length === 0) {
    throw new Error(`tool module ${modulePath} exports no tools, resources or prompts`);
  }
  return definitions;
}
