/**
 * loadtest/scenarios.json, typed: the one file that holds every k6 scenario parameter, every
 * threshold and the perf gate's settings. k6 reads the same file in loadtest/mcp.js.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoDir = fileURLToPath(new URL('../../', import.meta.url));
export const k6Script = fileURLToPath(new URL('../../loadtest/mcp.js', import.meta.url));
const scenariosPath = fileURLToPath(new URL('../../loadtest/scenarios.json', import.meta.url));

export interface LatencyLimits {
  readonly p95: number;
  readonly p99: number;
}

export interface Scenario {
  readonly description: string;
  readonly warmup?: { readonly duration: string; readonly rate: number };
  readonly k6: Record<string, unknown>;
  /** Milliseconds, per request kind (`call_echo`, `call_gateway`, …). */
  readonly latencyMs: Readonly<Record<string, LatencyLimits>>;
}

export interface GateSettings {
  readonly scenario: string;
  /**
   * `requests`: base and head run side by side and every k6 iteration calls both (alternating which
   * goes first); `rounds`: one after the other within each round, alternating which goes first.
   */
  readonly interleave: 'requests' | 'rounds';
  /** Rounds; each starts base and head afresh and measures both. */
  readonly rounds: number;
  /**
   * Rounds added when the first `rounds` leave a p95/p99 in doubt (over its limit or the allowed
   * regression, with error and check rates fine); the verdict is then taken on all of them. 0: none.
   */
  readonly confirmRounds: number;
  /** Largest accepted p95/p99 increase of head over base, as a fraction (0.1 = 10 %). */
  readonly maxRegression: number;
  /** Share of the rounds in which head must be slower for an increase over maxRegression to fail it. */
  readonly minSlowerShare: number;
  /** Request kinds whose p95/p99 are compared. */
  readonly compare: readonly string[];
}

export interface LoadtestConfig {
  readonly echoText: string;
  /** The fixture upstream's tool over stdio, and the same over Streamable HTTP. */
  readonly gatewayTool: string;
  readonly gatewayHttpTool: string;
  readonly maxFailedRate: number;
  readonly minChecksRate: number;
  readonly scenarios: Readonly<Record<string, Scenario>>;
  readonly gate: GateSettings;
}

export function loadConfig(): LoadtestConfig {
  return JSON.parse(readFileSync(scenariosPath, 'utf8')) as LoadtestConfig;
}

export function scenarioNamed(config: LoadtestConfig, name: string): Scenario {
  const scenario = config.scenarios[name];
  if (!scenario) {
    throw new Error(`unknown scenario "${name}"; known: ${Object.keys(config.scenarios).join(', ')}`);
  }
  return scenario;
}
