import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cruise, format, type ICruiseResult } from 'dependency-cruiser';

const root = fileURLToPath(new URL('../../', import.meta.url));
const configUrl = pathToFileURL(`${root}.dependency-cruiser.mjs`).href;

async function cruiseRepository(): Promise<ICruiseResult> {
  const { default: rules } = await import(configUrl);
  const { output } = await cruise(['src', 'test', 'bench', 'scripts', 'support'], {
    ...rules.options,
    baseDir: root,
    validate: true,
    ruleSet: { forbidden: rules.forbidden },
  });
  return output as ICruiseResult;
}

const result = await cruiseRepository();

it('sees the imports it checks, type-only and dynamic ones included', () => {
  const dependenciesOf = (source: string) =>
    result.modules.find((m) => m.source === source)?.dependencies.map((d) => d.resolved) ?? [];
  // A cruise that parsed nothing would find no violations either.
  assert.ok(dependenciesOf('src/main.ts').includes('src/http/app.ts'));
  assert.ok(dependenciesOf('src/main.ts').includes('src/config/schema.ts'), 'import type');
  assert.ok(dependenciesOf('src/telemetry/bootstrap.ts').includes('src/telemetry/sdk.ts'), 'import()');
});

it('src/ imports only downward, nothing imports in a cycle, and only test/ imports test/', async () => {
  const { violations } = result.summary;
  if (violations.length > 0) {
    const { output } = await format(result, { outputType: 'err-long' });
    assert.fail(`import rules (.dependency-cruiser.mjs, docs/architecture.md) broken:\n${output}`);
  }
});
