import leven from 'leven';
import { options } from './options.ts';

const prefix = 'LOOKOUT_';

/** Every `LOOKOUT_*` variable Lookout reads. */
export const knownEnvironmentVariables: readonly string[] = ['LOOKOUT_CONFIG', ...options.map((o) => o.env)];

/**
 * One warning for each `LOOKOUT_*` variable in `env` that Lookout does not read, naming the known one
 * closest to it: a misspelt setting would otherwise be ignored without a word. A warning, not a refusal,
 * because an environment can carry variables of the same prefix that are not meant for Lookout (the
 * service links Kubernetes adds for a Service named `lookout`, for one).
 */
export function unknownEnvironmentWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith(prefix) && !knownEnvironmentVariables.includes(name))
    .sort()
    .map((name) => {
      const closest = knownEnvironmentVariables.reduce((best, known) =>
        leven(name, known) < leven(name, best) ? known : best,
      );
      return `${name} is not a Lookout setting and is ignored; did you mean ${closest}?`;
    });
}
