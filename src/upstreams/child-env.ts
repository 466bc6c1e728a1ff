/** Which of Lookout's environment variables a stdio child inherits: patterns with `*` for any run. */
export interface ChildEnvPolicy {
  readonly deny: readonly string[];
  readonly allow: readonly string[];
}

function matcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  const escaped = patterns.map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*'));
  const pattern = new RegExp(`^(?:${escaped.join('|')})$`);
  return (name) => pattern.test(name);
}

/**
 * A child gets Lookout's environment (proxies, CA certificates, `npm_config_*`: what `npx` and the
 * servers it starts need) minus what the policy denies — Lookout's own secrets by default — plus the
 * upstream's own `env`. Values that are shell functions are never passed on.
 */
export function childEnvironment(
  inherited: Readonly<Record<string, string | undefined>>,
  policy: ChildEnvPolicy,
  own: Readonly<Record<string, string>>,
): Record<string, string> {
  const denied = matcher(policy.deny);
  const allowed = matcher(policy.allow);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value === undefined || value.startsWith('()')) continue;
    if (denied(name) && !allowed(name)) continue;
    env[name] = value;
  }
  return { ...env, ...own };
}
