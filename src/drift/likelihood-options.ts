/**
 * The check of the likelihood detector's options ({@link LikelihoodDetectorOptions}): every one is checked
 * at construction (`CONFIG_INVALID` naming it) and given its default.
 */
import { boolOption, intOption, numberOption, objectOption, positiveOption, ratioOption } from '../core/validate.js';
import type { LikelihoodDetectorOptions } from './likelihood.js';

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
