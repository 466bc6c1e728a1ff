import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where `npm run tools` (scripts/install-tools.sh) puts the ecosystem binaries. */
export const toolsBinDir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lookout', 'bin');

/** The path of an ecosystem binary built by `npm run tools`; throws, naming the fix, when it is missing. */
export function toolPath(
  name:
    | 'otelcol-lookout'
    | 'jaeger'
    | 'k6'
    | 'actionlint'
    | 'kubeconform'
    | 'prometheus'
    | 'promtool'
    | 'alertmanager'
    | 'amtool'
    | 'chromium'
    | 'mcp-go-client',
): string {
  const path = join(toolsBinDir, name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${path} is missing: run \`npm run tools\` first`);
  }
  return path;
}
