/**
 * The options of the likelihood detector ({@link LikelihoodDetectorOptions}) and their check: every one is
 * checked at construction (`CONFIG_INVALID` naming it) and given its default.
 */
import { boolOption, intOption, numberOption, objectOption, positiveOption, ratioOption } from '../core/validate.js';

/** Options of {@link LikelihoodDriftDetector}; every one is checked at construction (`CONFIG_INVALID`). */
export interface LikelihoodDetectorOptions {
  /** Values in the baseline window (median, scale and rank). Default 2000. */
  window?: number;
  /** Values averaged for the short-term level. Default 5. */
  short?: number;
  /** Surprises remembered by each likelihood. Default 2000. */
  history?: number;
  /** Surprises averaged for the likelihood's short-term mean. Default 3. */
  likelihoodShort?: number;
  /** Floor of the surprises' spread. Default 0.2. */
  minStd?: number;
  /** Values before scoring. Default 150. */
  warmup?: number;
  /** Tail probability that maps to score 1 (log scale). Default 1e-12. */
  floorP?: number;
  /** Rows after an alert during which scores are damped (an alert is a spike, not a held level). Default 80. */
  refractory?: number;
  /** Score that starts the refractory period. Default 0.47. */
  alertAt?: number;
  /** Multiplier inside the refractory period. Default 0.3. */
  damp?: number;
  /** Longest period looked for (values: a day of 5-minute samples, a week of hourly ones); 0 turns the seasonal surprise off. Default 300. */
  maxPeriod?: number;
  /** How much of the typical difference the period's null must remove (0–1). Default 0.7. */
  minPeriodStrength?: number;
  /** Values between period searches once one is found. Default 500. */
  periodEvery?: number;
  /** Context length of the analog forecast; 0 turns the analog surprise off. Default 6. */
  analogLength?: number;
  /** Nearest contexts whose successors form the forecast. Default 8. */
  analogNeighbours?: number;
  /** Past positions searched for similar contexts (at most 4 × maxPeriod, the history kept). Default 1000. */
  analogWindow?: number;
  /** Combine the rank of the value among the baseline window with the surprises. Default true. */
  rank?: boolean;
  /** Relative tolerance on the interval for an alert to count as recurring (damped); 0 turns it off. Default 0.04. */
  periodicTolerance?: number;
  /** Values of a held shift after which the baseline is relearned; 0 turns it off. Default 100. */
  relearnAfter?: number;
  /** Distance from the baseline's median, in robust scales, that counts as a held shift. Default 4. */
  relearnZ?: number;
}

const LIKELIHOOD_OPTIONS = [
  'window',
  'short',
  'history',
  'likelihoodShort',
  'minStd',
  'warmup',
  'floorP',
  'refractory',
  'alertAt',
  'damp',
  'maxPeriod',
  'minPeriodStrength',
  'periodEvery',
  'analogLength',
  'analogNeighbours',
  'analogWindow',
  'rank',
  'periodicTolerance',
  'relearnAfter',
  'relearnZ',
] as const satisfies readonly (keyof LikelihoodDetectorOptions)[];

/** Checks `options` (an unknown or invalid one throws `CONFIG_INVALID`) and fills in the defaults. */
export function likelihoodSettings(options: LikelihoodDetectorOptions): Required<LikelihoodDetectorOptions> {
  const o = objectOption('', options, LIKELIHOOD_OPTIONS) as LikelihoodDetectorOptions;
  const int = (field: keyof LikelihoodDetectorOptions, fallback: number, min: number) => intOption(field, o[field] ?? fallback, min);
  return {
    window: int('window', 2000, 10),
    short: int('short', 5, 1),
    history: int('history', 2000, 2),
    likelihoodShort: int('likelihoodShort', 3, 1),
    minStd: positiveOption('minStd', o.minStd ?? 0.2),
    warmup: int('warmup', 150, 0),
    floorP: positiveOption('floorP', o.floorP ?? 1e-12, 0.5),
    refractory: int('refractory', 80, 0),
    alertAt: ratioOption('alertAt', o.alertAt ?? 0.47),
    damp: ratioOption('damp', o.damp ?? 0.3, true),
    maxPeriod: int('maxPeriod', 300, 0),
    minPeriodStrength: ratioOption('minPeriodStrength', o.minPeriodStrength ?? 0.7, true),
    periodEvery: int('periodEvery', 500, 1),
    analogLength: int('analogLength', 6, 0),
    analogNeighbours: int('analogNeighbours', 8, 1),
    analogWindow: int('analogWindow', 1000, 1),
    rank: boolOption('rank', o.rank ?? true),
    periodicTolerance: numberOption('periodicTolerance', o.periodicTolerance ?? 0.04, 0, 0.5),
    relearnAfter: int('relearnAfter', 100, 0),
    relearnZ: positiveOption('relearnZ', o.relearnZ ?? 4),
  };
}
