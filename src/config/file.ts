/**
 * Configuration from a file (JSON, or YAML when the `yaml` package is installed) and from the environment.
 * The file holds the same sections as a patch (`dependencies`, `operations`, `features`; a `$schema` key is
 * allowed, see docs/schemas/config-v1.schema.json). Reading never throws past this module: a file that
 * cannot be read or parsed is a `ConfigFileError` naming the file and the first problem.
 */
import { readFile } from 'node:fs/promises';
import { isPlainObject } from '../core/validate.js';
import type { ConfigPatch } from './patch.js';

export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

/** Reads and parses a configuration file into a patch (shape checks happen when it is applied). */
export async function readConfigFile(path: string): Promise<ConfigPatch> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigFileError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let value: unknown;
  if (/\.ya?ml$/i.test(path)) {
    let yaml: { parse: (s: string) => unknown };
    try {
      yaml = (await import('yaml')) as { parse: (s: string) => unknown };
    } catch {
      throw new ConfigFileError(`${path}: YAML needs the \`yaml\` package (npm install yaml), or use JSON`);
    }
    try {
      value = yaml.parse(text);
    } catch (e) {
      throw new ConfigFileError(`${path}: not valid YAML (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
  } else {
    try {
      value = JSON.parse(text) as unknown;
    } catch (e) {
      throw new ConfigFileError(`${path}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (!isPlainObject(value)) throw new ConfigFileError(`${path}: expected an object with dependencies, operations or features`);
  const { $schema: _schema, ...patch } = value;
  return patch as ConfigPatch;
}

const ENV_FIELDS: Record<string, (v: string) => [section: 'dependencies' | 'operations', field: string, value: unknown]> = {
  TIMEOUT: (v) => ['dependencies', 'timeout', v],
  RETRY_ATTEMPTS: (v) => ['dependencies', 'retry', { attempts: Number(v) }],
  CONCURRENCY: (v) => ['dependencies', 'concurrency', { limit: Number(v) }],
  DEADLINE: (v) => ['operations', 'deadline', v],
  PRIORITY: (v) => ['operations', 'priority', v],
};

/** `PAYMENTS`, `store:sqlite` → `STORE_SQLITE`: how a name appears in an environment variable. */
export function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * Environment overrides for the usual knobs: `BLASTWALL_TIMEOUT_<DEPENDENCY>`, `BLASTWALL_RETRY_ATTEMPTS_<DEPENDENCY>`,
 * `BLASTWALL_CONCURRENCY_<DEPENDENCY>`, `BLASTWALL_DEADLINE_<OPERATION>`, `BLASTWALL_PRIORITY_<OPERATION>`.
 */
export function envPatch(names: { dependencies: readonly string[]; operations: readonly string[] }, env: NodeJS.ProcessEnv = process.env): ConfigPatch {
  const patch: ConfigPatch = {};
  for (const [key, make] of Object.entries(ENV_FIELDS)) {
    for (const section of ['dependencies', 'operations'] as const) {
      for (const name of names[section]) {
        const v = env[`BLASTWALL_${key}_${envName(name)}`];
        if (v === undefined || v === '') continue;
        const [s, field, value] = make(v);
        if (s !== section) continue;
        const target = ((patch[section] ??= {}) as Record<string, Record<string, unknown>>);
        (target[name] ??= {})[field] = value;
      }
    }
  }
  return patch;
}

/** Lays `over` on `base` section by section (fields of one name merge). */
export function mergePatches(base: ConfigPatch, over: ConfigPatch): ConfigPatch {
  const out: ConfigPatch = JSON.parse(JSON.stringify(base)) as ConfigPatch;
  for (const section of ['dependencies', 'operations'] as const) {
    for (const [name, fields] of Object.entries(over[section] ?? {})) {
      const target = (out[section] ??= {}) as Record<string, Record<string, unknown>>;
      target[name] = { ...(target[name] ?? {}), ...(fields as Record<string, unknown>) };
    }
  }
  if (over.features !== undefined) out.features = { ...(out.features ?? {}), ...over.features };
  return out;
}
