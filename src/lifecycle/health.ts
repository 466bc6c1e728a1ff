/**
 * What the health probes report. Checks are pure: they read state and return a verdict; the HTTP layer
 * maps a verdict to 200 or 503.
 */
export type Phase = 'starting' | 'serving' | 'draining' | 'stopped';

export interface CheckResult {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface DependencyCheck {
  readonly name: string;
  /** A required dependency that is down makes the service not ready. */
  readonly required: boolean;
  check(): CheckResult;
}

export interface HealthReport {
  readonly status: 'ok' | 'fail';
  readonly phase: Phase;
  readonly checks: Record<string, { status: 'ok' | 'fail'; required?: boolean; detail?: string }>;
}

export class Health {
  #phase: Phase = 'starting';
  readonly #dependencies: DependencyCheck[] = [];

  get phase(): Phase {
    return this.#phase;
  }

  set phase(phase: Phase) {
    this.#phase = phase;
  }

  get draining(): boolean {
    return this.#phase === 'draining' || this.#phase === 'stopped';
  }

  addDependency(check: DependencyCheck): void {
    this.#dependencies.push(check);
  }

  /** The process is alive and its event loop turns: only a stopped service fails it. */
  live(): HealthReport {
    return this.#single('process', this.#phase !== 'stopped');
  }

  /** Start-up has finished (it stays finished while draining). */
  startup(): HealthReport {
    return this.#single('startup', this.#phase !== 'starting');
  }

  #single(check: string, ok: boolean): HealthReport {
    const status = ok ? 'ok' : 'fail';
    return { status, phase: this.#phase, checks: { [check]: { status } } };
  }

  /** Serving, not draining, and every required dependency up. */
  ready(): HealthReport {
    const checks: HealthReport['checks'] = {
      phase: { status: this.#phase === 'serving' ? 'ok' : 'fail', detail: this.#phase },
    };
    let ok = this.#phase === 'serving';
    for (const dependency of this.#dependencies) {
      const result = dependency.check();
      checks[dependency.name] = {
        status: result.ok ? 'ok' : 'fail',
        required: dependency.required,
        ...(result.detail !== undefined && { detail: result.detail }),
      };
      if (!result.ok && dependency.required) ok = false;
    }
    return { status: ok ? 'ok' : 'fail', phase: this.#phase, checks };
  }
}
