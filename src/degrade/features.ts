import type { Clock } from '../core/clock.js';
import { BlastwallError } from '../core/errors.js';
import { configError, enumOption, objectOption, stringOption } from '../core/validate.js';
import { MODES, type Mode } from './modes.js';

/**
 * How much a feature costs to serve, which decides the modes it is switched off in by default:
 * `expensive` → off in `degraded`, `shedding` and `read-only`; `moderate` → off in `shedding`; `cheap` → never
 * switched off by mode.
 */
export type Cost = 'cheap' | 'moderate' | 'expensive';

/**
 * The declaration of a feature switch, passed to `wall.feature(name, spec)`. Every field is checked when
 * declared; an invalid spec (or a name declared twice) throws `CONFIG_INVALID`.
 */
export interface FeatureSpec {
  /** What the feature costs to serve; sets the default `offIn` (see {@link Cost}). */
  cost: Cost;
  /** Modes in which it is switched off. Default by cost: expensive → degraded, shedding, read-only; moderate → shedding; cheap → none. */
  offIn?: Mode[];
  /** Who answers for the switch (a team or a person); shown in `wall.features()` and on the dashboard. */
  owner: string;
  /** When this switch should be removed (a Date or an ISO date). */
  expires: Date | string;
}

const DEFAULT_OFF: Record<Cost, Mode[]> = { expensive: ['degraded', 'shedding', 'read-only'], moderate: ['shedding'], cheap: [] };

/** A feature switch. `enabled` is a plain field, recomputed only when the mode or an override changes. */
export class Feature {
  enabled = true;
  override: 'on' | 'off' | undefined;
  overrideReason: string | undefined;
  readonly offIn: ReadonlySet<Mode>;
  readonly expiresAt: number;
  constructor(
    readonly name: string,
    readonly cost: Cost,
    offIn: Mode[],
    readonly owner: string,
    expires: number,
  ) {
    this.offIn = new Set(offIn);
    this.expiresAt = expires;
  }
  /**
   * Sets `enabled` for `mode`: a hand override (`on`/`off`) wins; otherwise the feature is off exactly when
   * `mode` is one of its `offIn` modes. The registry calls this on every mode change and override; you do not
   * need to call it yourself.
   */
  recompute(mode: Mode): void {
    this.enabled = this.override === undefined ? !this.offIn.has(mode) : this.override === 'on';
  }
}

export class FeatureRegistry {
  private readonly features = new Map<string, Feature>();
  private mode: Mode = 'normal';

  constructor(private readonly clock: Clock) {}

  declare(name: string, spec: FeatureSpec): Feature {
    stringOption('feature name', name);
    if (this.features.has(name)) throw new BlastwallError('CONFIG_INVALID', `Feature '${name}' is already declared`);
    const o = objectOption(`feature '${name}'`, spec, ['cost', 'offIn', 'owner', 'expires']);
    const cost = enumOption(`${name}.cost`, o.cost, ['cheap', 'moderate', 'expensive'] as const);
    let offIn = DEFAULT_OFF[cost];
    if (o.offIn !== undefined) {
      if (!Array.isArray(o.offIn)) throw configError(`${name}.offIn`, `an array of modes (${MODES.join(', ')})`, o.offIn);
      offIn = o.offIn.map((m, i) => enumOption(`${name}.offIn[${i}]`, m, MODES));
    }
    const owner = stringOption(`${name}.owner`, o.owner);
    const expires = o.expires instanceof Date ? o.expires.getTime() : typeof o.expires === 'string' ? Date.parse(o.expires) : Number.NaN;
    if (!Number.isFinite(expires)) throw configError(`${name}.expires`, 'a Date or an ISO date string', o.expires);
    const f = new Feature(name, cost, offIn, owner, expires);
    f.recompute(this.mode);
    this.features.set(name, f);
    return f;
  }

  get(name: string): Feature {
    const f = this.features.get(name);
    if (f === undefined) throw new BlastwallError('CONFIG_INVALID', `No feature named '${name}' is declared`);
    return f;
  }

  /** Switches a feature on or off by hand, or back to `auto` (by mode). */
  set(name: string, state: 'on' | 'off' | 'auto', reason: string): Feature {
    const f = this.get(name);
    enumOption('feature state', state, ['on', 'off', 'auto'] as const);
    f.override = state === 'auto' ? undefined : state;
    f.overrideReason = state === 'auto' ? undefined : stringOption('reason', reason);
    f.recompute(this.mode);
    return f;
  }

  onMode(mode: Mode): void {
    this.mode = mode;
    for (const f of this.features.values()) f.recompute(mode);
  }

  list(): { name: string; cost: Cost; owner: string; expires: string; expired: boolean; enabled: boolean; override: string | null; offIn: Mode[] }[] {
    const now = this.clock.now();
    return [...this.features.values()].map((f) => ({
      name: f.name,
      cost: f.cost,
      owner: f.owner,
      expires: new Date(f.expiresAt).toISOString(),
      expired: now >= f.expiresAt,
      enabled: f.enabled,
      override: f.override ?? null,
      offIn: [...f.offIn],
    }));
  }
}
