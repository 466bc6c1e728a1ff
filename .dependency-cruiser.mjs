/**
 * The import rules `npm test` checks (test/unit/layers.test.ts); docs/architecture.md explains them.
 * Run it by hand with `npm run layers`.
 */

/**
 * src/ from the top down: a module may import from its own layer or the ones below it, never above.
 * Within a layer, imports go one way only: the no-cycle rule sees to that.
 */
const layers = [
  { name: 'entry points', paths: ['src/cli\\.ts$', 'src/cli/', 'src/index\\.ts$'] },
  { name: 'composition', paths: ['src/main\\.ts$', 'src/composition/'] },
  // The live view reads what the layers below it hold; main mounts its routes on the app.
  { name: 'live view', paths: ['src/live/'] },
  { name: 'http', paths: ['src/http/'] },
  { name: 'mcp', paths: ['src/mcp/'] },
  // The gateway fills the tool catalog with the upstreams' tools: upstreams sit above tools.
  { name: 'upstreams', paths: ['src/upstreams/'] },
  { name: 'tools', paths: ['src/tools/'] },
  { name: 'telemetry', paths: ['src/telemetry/'] },
  { name: 'logging', paths: ['src/logging/'] },
  { name: 'config and lifecycle', paths: ['src/config/', 'src/lifecycle/'] },
  {
    name: 'foundation',
    paths: ['src/errors/', 'src/json/', 'src/security/', 'src/redaction/', 'src/version\\.ts$'],
  },
];

const either = (paths) => `^(${paths.join('|')})`;

const upwardImports = layers.slice(1).map((layer, index) => ({
  name: `layer-${layer.name.replaceAll(' ', '-')}`,
  comment: `${layer.name} may not import from a layer above it (${layers
    .slice(0, index + 1)
    .map((l) => l.name)
    .join(', ')})`,
  severity: 'error',
  from: { path: either(layer.paths) },
  to: { path: either(layers.slice(0, index + 1).flatMap((l) => l.paths)) },
}));

export default {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'an import cycle: move the shared part into the lower module or pass it in',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upwardImports,
    {
      name: 'src-stands-alone',
      comment: 'the service imports nothing from the tests, the bench, the scripts or their helpers',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts|support)/' },
    },
    {
      name: 'no-test-helpers-outside-test',
      comment: 'bench/, scripts/ and support/ do not import test/: shared helpers live in support/',
      severity: 'error',
      from: { path: '^(bench|scripts|support)/' },
      to: { path: '^test/' },
    },
    {
      name: 'support-stands-below-bench-and-scripts',
      comment: 'support/ holds what bench/, scripts/ and test/ share; it imports none of them',
      severity: 'error',
      from: { path: '^support/' },
      to: { path: '^(bench|scripts)/' },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript API for dependency-cruiser to parse with; swc reads the sources,
    // and keeps type-only imports: a type two layers share belongs to the lower one.
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    moduleSystems: ['es6'],
  },
};
