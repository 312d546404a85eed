/**
 * Live configuration patches: what may change at run time, how a patch merges onto the running
 * configuration, and the diff between two configurations. Plain data only (durations as `'800ms'` or
 * milliseconds): a patch can come from code, a file or an HTTP call, and is recorded as it was given.
 */
import { BlastwallError } from '../core/errors.js';
import { describe, isPlainObject } from '../core/validate.js';

/** The boundaries of a dependency that may change at run time (same names and forms as at declaration). */
export const DEPENDENCY_PATCH_KEYS = ['timeout', 'retry', 'breaker', 'concurrency', 'cache', 'fallback'] as const;
/** The fields of an operation that may change at run time. */
export const OPERATION_PATCH_KEYS = ['deadline', 'priority'] as const;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface DependencyPatch {
  timeout?: JsonValue;
  retry?: JsonValue;
  breaker?: JsonValue;
  concurrency?: JsonValue;
  cache?: JsonValue;
  /** `'off'` stops serving an optional dependency's fallback (its failures then reach the caller); `'on'` restores it. */
  fallback?: 'on' | 'off';
}

export interface OperationPatch {
  deadline?: JsonValue;
  priority?: JsonValue;
}

export interface ConfigPatch {
  dependencies?: Record<string, DependencyPatch>;
  operations?: Record<string, OperationPatch>;
  /** Feature switches: `'on'`, `'off'`, or `'auto'` (back to following the mode). */
  features?: Record<string, 'on' | 'off' | 'auto'>;
}

/** The running configuration as data: every patchable field's current value (declared or patched). */
export interface ConfigSnapshot {
  dependencies: Record<string, Record<string, JsonValue>>;
  operations: Record<string, Record<string, JsonValue>>;
  features: Record<string, 'on' | 'off' | 'auto'>;
}

export interface ConfigChange {
  path: string;
  from: JsonValue | undefined;
  to: JsonValue | undefined;
}

function invalid(field: string, expectation: string, value: unknown): BlastwallError {
  return new BlastwallError('CONFIG_INVALID', `Expected \`${field}\` to be ${expectation}, got ${describe(value)}`, { details: { field, expectation } });
}

function isJson(v: unknown, depth = 0): v is JsonValue {
  if (depth > 20) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => isJson(x, depth + 1));
  return isPlainObject(v) && Object.values(v).every((x) => isJson(x, depth + 1));
}

/**
 * Checks a patch's shape against what is declared (names, patchable fields, plain data). The values
 * themselves are checked by the same code as at declaration, when the wall builds the patched boundaries.
 */
export function checkPatchShape(patch: unknown, declared: { dependencies: ReadonlySet<string>; operations: ReadonlySet<string>; features: ReadonlySet<string> }): ConfigPatch {
  if (!isPlainObject(patch)) throw invalid('patch', 'an object { dependencies?, operations?, features? }', patch);
  for (const k of Object.keys(patch)) {
    if (k !== 'dependencies' && k !== 'operations' && k !== 'features') {
      throw new BlastwallError('CONFIG_INVALID', `Unknown patch section \`${k}\`; expected \`dependencies\`, \`operations\` or \`features\``, { details: { field: k } });
    }
  }
  const section = (name: 'dependencies' | 'operations', names: ReadonlySet<string>, keys: readonly string[]): void => {
    const s = patch[name];
    if (s === undefined) return;
    if (!isPlainObject(s)) throw invalid(name, `an object of ${name === 'dependencies' ? 'dependency' : 'operation'} name → fields`, s);
    for (const [n, fields] of Object.entries(s)) {
      if (!names.has(n)) {
        throw new BlastwallError('CONFIG_INVALID', `Unknown ${name === 'dependencies' ? 'dependency' : 'operation'} \`${name}.${n}\`; declared: ${[...names].map((x) => `\`${x}\``).join(', ') || 'none'}`, {
          details: { field: `${name}.${n}` },
        });
      }
      if (!isPlainObject(fields)) throw invalid(`${name}.${n}`, `an object with some of ${keys.map((x) => `\`${x}\``).join(', ')}`, fields);
      for (const [k, v] of Object.entries(fields)) {
        if (!keys.includes(k)) {
          throw new BlastwallError('CONFIG_INVALID', `\`${name}.${n}.${k}\` cannot change at run time; expected one of ${keys.map((x) => `\`${x}\``).join(', ')}`, {
            details: { field: `${name}.${n}.${k}` },
          });
        }
        if (!isJson(v)) throw invalid(`${name}.${n}.${k}`, 'plain data (strings, finite numbers, booleans, objects, arrays)', v);
        if (name === 'dependencies' && k === 'fallback' && v !== 'on' && v !== 'off') throw invalid(`${name}.${n}.${k}`, "'on' or 'off'", v);
      }
    }
  };
  section('dependencies', declared.dependencies, DEPENDENCY_PATCH_KEYS);
  section('operations', declared.operations, OPERATION_PATCH_KEYS);
  if (patch.features !== undefined) {
    if (!isPlainObject(patch.features)) throw invalid('features', "an object of feature name → 'on' | 'off' | 'auto'", patch.features);
    for (const [n, v] of Object.entries(patch.features)) {
      if (!declared.features.has(n)) throw new BlastwallError('CONFIG_INVALID', `Unknown feature \`features.${n}\``, { details: { field: `features.${n}` } });
      if (v !== 'on' && v !== 'off' && v !== 'auto') throw invalid(`features.${n}`, "'on', 'off' or 'auto'", v);
    }
  }
  return patch as ConfigPatch;
}

/** Deep merge of plain data: objects merge key by key, anything else replaces. */
export function mergeJson(base: JsonValue | undefined, over: JsonValue | undefined): JsonValue | undefined {
  if (over === undefined) return base;
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, JsonValue> = { ...(base as Record<string, JsonValue>) };
    for (const [k, v] of Object.entries(over as Record<string, JsonValue>)) {
      const m = mergeJson(out[k], v);
      if (m !== undefined) out[k] = m;
    }
    return out;
  }
  return over;
}

/** The snapshot after a patch (the patch is assumed checked). */
export function applyPatch(snapshot: ConfigSnapshot, patch: ConfigPatch): ConfigSnapshot {
  const next: ConfigSnapshot = clone(snapshot);
  for (const [n, fields] of Object.entries(patch.dependencies ?? {})) {
    next.dependencies[n] = mergeJson(next.dependencies[n] ?? {}, fields as JsonValue) as Record<string, JsonValue>;
  }
  for (const [n, fields] of Object.entries(patch.operations ?? {})) {
    next.operations[n] = mergeJson(next.operations[n] ?? {}, fields as JsonValue) as Record<string, JsonValue>;
  }
  for (const [n, v] of Object.entries(patch.features ?? {})) next.features[n] = v;
  return next;
}

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Every leaf that differs between two snapshots, as `dependencies.payments.timeout: '120ms' → '60ms'`. */
export function diffSnapshots(a: ConfigSnapshot, b: ConfigSnapshot): ConfigChange[] {
  const out: ConfigChange[] = [];
  const walk = (path: string, x: JsonValue | undefined, y: JsonValue | undefined): void => {
    if (isPlainObject(x) && isPlainObject(y)) {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const k of [...keys].sort()) walk(path ? `${path}.${k}` : k, (x as Record<string, JsonValue>)[k], (y as Record<string, JsonValue>)[k]);
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ path, from: x, to: y });
  };
  walk('', a as unknown as JsonValue, b as unknown as JsonValue);
  return out;
}

/** One line per change, for the timeline and logs. */
export function describeChanges(changes: readonly ConfigChange[]): string {
  const show = (v: JsonValue | undefined) => (v === undefined ? '(declared default)' : JSON.stringify(v));
  return changes.map((c) => `${c.path}: ${show(c.from)} → ${show(c.to)}`).join('; ');
}
