import { registerHooks } from 'node:module';

/**
 * Lets the tool modules this process loads `import { defineTool, z } from 'lookout'` wherever they live,
 * with nothing installed next to them: the specifier resolves to this Lookout's own API module, so a
 * tool module and the server share one copy of it, and of zod.
 */
export function resolveLookoutForToolModules(): void {
  // Run from src/ (type stripping) the API module is index.ts; built, it is index.js beside this file's.
  const api = new URL(import.meta.url.endsWith('.ts') ? '../index.ts' : '../index.js', import.meta.url).href;
  registerHooks({
    resolve: (specifier, context, nextResolve) =>
      specifier === 'lookout' ? { url: api, shortCircuit: true } : nextResolve(specifier, context),
  });
}
