import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StartupError } from '../errors/catalog.ts';
import { verifyModule } from '../security/signing.ts';
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
export async function loadDefinitions(
  modulePath: string,
  signatures: { required: boolean; trustedKeys: readonly string[] },
): Promise<Definition[]> {
  const absolute = isAbsolute(modulePath) ? modulePath : resolve(modulePath);
  if (signatures.required) {
    const keys = signatures.trustedKeys.map((key) =>
      key.trimStart().startsWith('-----BEGIN') ? key : readFileSync(key, 'utf8'),
    );
    const verdict = verifyModule(absolute, keys);
    if (!verdict.ok) throw new StartupError(`tool module ${modulePath} refused: ${verdict.reason}`);
  }
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    throw new StartupError(
      `tool module ${modulePath} could not be loaded: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const definitions: Definition[] = [];
  for (const value of Object.values(exports)) collect(value, definitions);
  if (definitions.length === 0) {
    throw new StartupError(`tool module ${modulePath} exports no tools, resources or prompts`);
  }
  return definitions;
}
