/**
 * The wall's live configuration: `wall.configure(patch, { reason, by, guard })`, `wall.config.current()`,
 * `.history()`, `.rollback(version)`, and deploy markers watched like changes.
 *
 * A patch is checked whole before anything changes (same checks as at declaration); then every touched
 * dependency and operation is rebuilt in one synchronous step, so no call sees half of a change and calls in
 * flight finish under the boundaries they started with. Each change gets a version, a diff and a timeline
 * entry. A guarded change is watched for its window and rolled back by the wall when its signals worsen.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { BlastwallError } from '../core/errors.js';
import { ConfigFileError, envPatch, mergePatches, readConfigFile } from '../config/file.js';
import type { Clock } from '../core/clock.js';
import { isPlainObject, stringOption } from '../core/validate.js';
import { durationOption, type Duration } from '../core/duration.js';
import { SEVERITY } from '../health/classifier.js';
import type { FeatureRegistry } from '../degrade/features.js';
import { describeSignals, parseGuard, type GuardOptions, type ParsedGuard, type SubjectSignals } from '../config/guard.js';
import {
  applyPatch,
  checkPatchShape,
  clone,
  DEPENDENCY_PATCH_KEYS,
  describeChanges,
  diffSnapshots,
  type ConfigChange,
  type ConfigSnapshot,
  type JsonValue,
} from '../config/patch.js';
import type { Dependency } from './dependency.js';
import { type DependencySpec, parseDependencySpec, type SpecContext } from './dependency-spec.js';
import type { WallEvent } from './events.js';
import { operationBoundaries, type Operation } from './operation.js';

export interface ConfigVersion {
  version: number;
  at: number;
  by: string;
  reason: string;
  changes: ConfigChange[];
  config: ConfigSnapshot;
  /** Set when this version rolled back to an earlier one. */
  rollbackTo?: number;
  /** True when the wall made this change by itself (a guard's rollback). */
  automatic?: boolean;
}

export interface ConfigureOptions {
  reason: string;
  by: string;
  /** Watch the change for `for` and roll it back when the touched signals worsen (see docs/config.md). */
  guard?: GuardOptions;
}

interface Watch {
  version: number;
  /** Subjects watched: `dependency:<name>` / `operation:<name>`. */
  subjects: string[];
  startedAt: number;
  endsAt: number;
  before: SubjectSignals[];
  baseline: Map<string, { calls: number; bad: number; requests: number; failed: number; shed: number; degraded: number }>;
  guard: ParsedGuard;
  /** A deploy is observed, not rolled back. */
  deploy?: string;
}

export interface LiveConfigHost {
  clock: Clock;
  spec: SpecContext;
  deps: ReadonlyMap<string, Dependency>;
  ops: ReadonlyMap<string, Operation>;
  features: FeatureRegistry;
  emit(e: WallEvent): void;
}

/** Plain data from a declared value: functions and undefined are dropped (they stay as declared). */
function project(v: unknown): JsonValue | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (Array.isArray(v)) return v.map((x) => project(x) ?? null);
  if (isPlainObject(v)) {
    const out: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = project(x);
      if (p !== undefined) out[k] = p;
    }
    return out;
  }
  return undefined;
}

/** A declared section with the configured data laid over it (functions in the declaration are kept). */
function overlay(declared: unknown, data: JsonValue | undefined): unknown {
  if (data === undefined) return declared;
  if (isPlainObject(declared) && isPlainObject(data)) {
    const out: Record<string, unknown> = { ...declared };
    for (const [k, v] of Object.entries(data)) out[k] = overlay(declared[k], v);
    return out;
  }
  return data;
}

export class LiveConfig {
  private readonly versions: ConfigVersion[] = [];
  private watches: Watch[] = [];

  constructor(private readonly host: LiveConfigHost) {}

  /** The running configuration as data (declared values with every change applied). */
  snapshot(): ConfigSnapshot {
    const last = this.versions[this.versions.length - 1];
    const snap: ConfigSnapshot = last === undefined ? { dependencies: {}, operations: {}, features: {} } : clone(last.config);
    // anything declared since the last change joins with its declared values
    for (const d of this.host.deps.values()) snap.dependencies[d.name] ??= this.declaredOf(d);
    for (const o of this.host.ops.values()) snap.operations[o.name] ??= { priority: o.priority, ...(Number.isFinite(o.deadlineMs) ? { deadline: o.deadlineMs } : {}) };
    for (const f of this.host.features.list()) snap.features[f.name] ??= (f.override as 'on' | 'off' | null) ?? 'auto';
    return snap;
  }

  private declaredOf(d: Dependency): Record<string, JsonValue> {
    const out: Record<string, JsonValue> = {};
    const spec = d.declared as Record<string, unknown>;
    for (const k of DEPENDENCY_PATCH_KEYS) {
      if (k === 'fallback') continue;
      const p = project(spec[k]);
      if (p !== undefined) out[k] = p;
    }
    if (d.criticality === 'optional') out.fallback = 'on';
    return out;
  }

  current(): ConfigVersion {
    return this.versions[this.versions.length - 1] ?? { version: 0, at: this.host.clock.now(), by: 'declaration', reason: 'as declared', changes: [], config: this.snapshot() };
  }

  history(): ConfigVersion[] {
    return this.versions.length === 0 ? [this.current()] : [...this.versions];
  }

  /** Applies a patch (see the class doc). Throws `CONFIG_INVALID` naming the field; then nothing changed. */
  configure(patch: unknown, options: ConfigureOptions, extra: { rollbackTo?: number; automatic?: boolean } = {}): ConfigVersion {
    const reason = stringOption('configure.reason', (options as { reason?: unknown } | undefined)?.reason);
    const by = stringOption('configure.by', (options as { by?: unknown } | undefined)?.by);
    const guard = options.guard === undefined ? undefined : parseGuard('configure.guard', options.guard);
    const p = checkPatchShape(patch, {
      dependencies: new Set(this.host.deps.keys()),
      operations: new Set(this.host.ops.keys()),
      features: new Set(this.host.features.list().map((f) => f.name)),
    });
    return this.install(applyPatch(this.snapshot(), p), { reason, by, guard, ...extra });
  }

  /** Returns to the configuration of `version` (as a new version, recorded like any change). */
  rollback(version: number, options: { reason: string; by: string }): ConfigVersion {
    const target = this.history().find((v) => v.version === version);
    if (target === undefined) {
      throw new BlastwallError('CONFIG_INVALID', `No configuration version ${version}; versions: ${this.history().map((v) => v.version).join(', ')}`, { details: { field: 'version' } });
    }
    return this.install(clone(target.config), { reason: stringOption('rollback.reason', options.reason), by: stringOption('rollback.by', options.by), guard: undefined, rollbackTo: version });
  }

  private install(next: ConfigSnapshot, o: { reason: string; by: string; guard: ParsedGuard | undefined; rollbackTo?: number; automatic?: boolean }): ConfigVersion {
    const prev = this.snapshot();
    const changes = diffSnapshots(prev, next);
    // 1. build everything first: any bad field throws here, before anything changed
    const depPlans: { dep: Dependency; spec: DependencySpec; changed: Set<string>; fallbackOff: boolean }[] = [];
    for (const d of this.host.deps.values()) {
      const touched = changes.filter((c) => c.path.startsWith(`dependencies.${d.name}.`));
      if (touched.length === 0) continue;
      const data = next.dependencies[d.name] ?? {};
      const spec: Record<string, unknown> = { ...(d.declared as Record<string, unknown>) };
      for (const k of DEPENDENCY_PATCH_KEYS) if (k !== 'fallback' && data[k] !== undefined) spec[k] = overlay(spec[k], data[k]);
      parseDependencySpec(d.name, spec as DependencySpec, this.host.spec); // the declaration's checks; throws CONFIG_INVALID
      const changed = new Set(touched.map((c) => c.path.split('.')[2] ?? ''));
      depPlans.push({ dep: d, spec: spec as DependencySpec, changed, fallbackOff: data.fallback === 'off' });
    }
    const opPlans: { op: Operation; spec: { priority?: unknown; deadline?: unknown } }[] = [];
    for (const op of this.host.ops.values()) {
      if (!changes.some((c) => c.path.startsWith(`operations.${op.name}.`))) continue;
      const data = next.operations[op.name] ?? {};
      const spec = { priority: data.priority, deadline: data.deadline };
      operationBoundaries(op.name, spec); // the declaration's checks, changing nothing yet
      opPlans.push({ op, spec });
    }
    // 2. install, in one synchronous step
    for (const p of depPlans) p.dep.reconfigure(p.spec, p.changed, p.fallbackOff);
    for (const p of opPlans) p.op.reconfigure(p.spec);
    for (const [name, state] of Object.entries(next.features)) {
      if (prev.features[name] !== state) this.host.features.set(name, state, o.reason);
    }
    const now = this.host.clock.now();
    if (this.versions.length === 0) this.versions.push({ version: 0, at: now, by: 'declaration', reason: 'as declared', changes: [], config: prev });
    const v: ConfigVersion = {
      version: (this.versions[this.versions.length - 1]?.version ?? 0) + 1,
      at: now,
      by: o.by,
      reason: o.reason,
      changes,
      config: clone(next),
      ...(o.rollbackTo === undefined ? {} : { rollbackTo: o.rollbackTo }),
      ...(o.automatic ? { automatic: true } : {}),
    };
    this.versions.push(v);
    if (this.versions.length > 1000) this.versions.splice(1, 1); // bounded; the first stays as the declaration's successor
    this.host.emit({
      type: 'config',
      at: now,
      version: v.version,
      by: v.by,
      reason: v.reason,
      changes: describeChanges(changes) || 'no change',
      ...(o.rollbackTo === undefined ? {} : { rollbackTo: o.rollbackTo }),
      automatic: o.automatic === true,
      ...(o.guard === undefined ? {} : { guardForMs: o.guard.forMs }),
    });
    if (o.guard !== undefined) this.watch(v.version, this.subjectsOf(changes), o.guard);
    return v;
  }

  /** A deploy marker: recorded now, then the whole service is observed for `watch` and the comparison recorded. */
  markDeploy(version: string, options: { by: string; watch?: Duration }): void {
    const by = stringOption('markDeploy.by', options.by);
    stringOption('markDeploy.version', version);
    const forMs = options.watch === undefined ? 300_000 : durationOption('markDeploy.watch', options.watch, 1, 2 ** 31 - 1);
    this.host.emit({ type: 'deploy', at: this.host.clock.now(), version, by });
    const subjects = [...[...this.host.deps.keys()].map((n) => `dependency:${n}`), ...[...this.host.ops.keys()].map((n) => `operation:${n}`)];
    this.watch(0, subjects, { ...parseGuard('markDeploy', { for: forMs }), forMs }, version);
  }

  private subjectsOf(changes: readonly ConfigChange[]): string[] {
    const out = new Set<string>();
    for (const c of changes) {
      const [section, name] = c.path.split('.');
      if (section === 'dependencies' && name !== undefined) out.add(`dependency:${name}`);
      if (section === 'operations' && name !== undefined) {
        out.add(`operation:${name}`);
        // an operation's change shows in the dependencies it calls too
        for (const e of this.host.ops.get(name)?.edges ?? []) out.add(`dependency:${e}`);
      }
    }
    return [...out];
  }

  private signals(subjects: readonly string[], now: number, since?: Watch['baseline']): SubjectSignals[] {
    return subjects.flatMap((s): SubjectSignals[] => {
      const [kind, name = ''] = s.split(':');
      if (kind === 'dependency') {
        const d = this.host.deps.get(name);
        if (d === undefined) return [];
        const base = since?.get(s);
        const calls = base === undefined ? d.stats.totals(now).calls : d.counters.calls - base.calls;
        const bad = base === undefined ? (() => { const t = d.stats.totals(now); return t.failures + t.timeouts; })() : d.counters.bad - base.bad;
        return [{ subject: d.name, calls, errorRatio: calls === 0 ? 0 : bad / calls, shedRatio: 0, degradedRatio: 0, severity: SEVERITY[d.classifier.state], state: d.classifier.state }];
      }
      const op = this.host.ops.get(name);
      if (op === undefined) return [];
      const base = since?.get(s);
      const c = op.counts;
      const requests = c.requests - (base?.requests ?? 0);
      const r = (n: number, b: number | undefined) => (requests === 0 ? 0 : (n - (b ?? 0)) / requests);
      return [{ subject: op.name, calls: requests, errorRatio: r(c.failed, base?.failed), shedRatio: r(c.shed, base?.shed), degradedRatio: r(c.degraded, base?.degraded), severity: 0 }];
    });
  }

  private watch(version: number, subjects: string[], guard: ParsedGuard, deploy?: string): void {
    const now = this.host.clock.now();
    const baseline: Watch['baseline'] = new Map();
    for (const s of subjects) {
      const [kind, name = ''] = s.split(':');
      const d = kind === 'dependency' ? this.host.deps.get(name) : undefined;
      const op = kind === 'operation' ? this.host.ops.get(name) : undefined;
      baseline.set(s, { calls: d?.counters.calls ?? 0, bad: d?.counters.bad ?? 0, requests: op?.counts.requests ?? 0, failed: op?.counts.failed ?? 0, shed: op?.counts.shed ?? 0, degraded: op?.counts.degraded ?? 0 });
    }
    // before: the ops' outcome share over their rolling window (cumulative counts since start otherwise)
    const before = this.signals(subjects, now).map((b) => {
      const op = this.host.ops.get(b.subject);
      if (op === undefined || b.calls > 0) return b;
      const t = op.stats.totals(now);
      return { ...b, calls: t.calls, errorRatio: t.calls === 0 ? 0 : t.failures / t.calls };
    });
    this.watches.push({ version, subjects, startedAt: now, endsAt: now + guard.forMs, before, baseline, guard, ...(deploy === undefined ? {} : { deploy }) });
  }

  /** Called at every health evaluation: judges each watched change; rolls back or records the outcome. */
  tick(now: number): void {
    if (this.watches.length === 0) return;
    const still: Watch[] = [];
    for (const w of this.watches) {
      const after = this.signals(w.subjects, now, w.baseline);
      const verdict = w.guard.judge(w.before, after);
      const figures = describeSignals(w.before, after);
      if (w.deploy !== undefined) {
        if (now < w.endsAt) still.push(w);
        else this.host.emit({ type: 'deploy-watch', at: now, version: w.deploy, outcome: verdict === false ? 'steady' : 'worse', detail: verdict === false ? figures : verdict });
        continue;
      }
      if (verdict !== false) {
        const prevVersion = this.history().filter((v) => v.version < w.version).pop()?.version ?? 0;
        try {
          this.rollbackAutomatically(prevVersion, `guard of v${w.version}: ${verdict}`);
        } finally {
          this.host.emit({ type: 'config-guard', at: now, version: w.version, outcome: 'rolled-back', detail: `${verdict} (${figures})` });
        }
        continue;
      }
      if (now >= w.endsAt) this.host.emit({ type: 'config-guard', at: now, version: w.version, outcome: 'kept', detail: figures });
      else still.push(w);
    }
    this.watches = still;
  }

  private rollbackAutomatically(to: number, reason: string): void {
    const target = this.history().find((v) => v.version === to) ?? this.history()[0]!;
    this.install(clone(target.config), { reason, by: 'blastwall (guard)', guard: undefined, rollbackTo: to, automatic: true });
  }

  // ---- configuration from a file ----

  private file: { path: string; guard: ParsedGuard | undefined; watching: boolean } | undefined;

  /**
   * Takes the configuration from a file (JSON or YAML) laid over the declared values, with environment
   * overrides (see `envPatch`) on top; `watch` re-reads it when it changes. A file that cannot be read,
   * parsed or applied is refused: the running configuration stays, the timeline records why.
   */
  useFile(path: string, options: { watch?: boolean; guard?: GuardOptions; intervalMs?: number } = {}): void {
    stringOption('config', path);
    const guard = options.guard === undefined ? undefined : parseGuard('config.guard', options.guard);
    this.closeFile();
    this.file = { path, guard, watching: options.watch !== false };
    if (this.file.watching) {
      watchFile(path, { interval: options.intervalMs ?? 1000, persistent: false }, this.onFileChange);
    }
  }

  private readonly onFileChange = (): void => {
    void this.reloadFile();
  };

  /** Reads the file again and applies it; resolves to the new version, or undefined when refused or unchanged. */
  async reloadFile(): Promise<ConfigVersion | undefined> {
    const f = this.file;
    if (f === undefined) return undefined;
    try {
      const fromFile = await readConfigFile(f.path);
      const patch = mergePatches(fromFile, envPatch({ dependencies: [...this.host.deps.keys()], operations: [...this.host.ops.keys()] }));
      const declared = this.history()[0]!.config;
      const shaped = checkPatchShape(patch, {
        dependencies: new Set(this.host.deps.keys()),
        operations: new Set(this.host.ops.keys()),
        features: new Set(this.host.features.list().map((x) => x.name)),
      });
      const target = applyPatch(declared, shaped);
      if (diffSnapshots(this.snapshot(), target).length === 0) return undefined;
      return this.install(target, { reason: `config file ${f.path}`, by: 'config file', guard: f.guard });
    } catch (err) {
      const message = err instanceof ConfigFileError || err instanceof BlastwallError ? err.message : String(err);
      this.host.emit({ type: 'config-refused', at: this.host.clock.now(), source: f.path, error: message });
      process.emitWarning(`blastwall: config file refused, the running configuration stays: ${message}`);
      return undefined;
    }
  }

  private closeFile(): void {
    if (this.file?.watching) unwatchFile(this.file.path, this.onFileChange);
    this.file = undefined;
  }

  /** Stops watching the file (wall.close). */
  close(): void {
    this.closeFile();
    this.watches = [];
  }

  /** Watches still running (for `drain` and tests). */
  get watching(): number {
    return this.watches.length;
  }
}
