/**
 * `wall.faults`: the wall's face of the injector. Off unless the wall was created with `faults: true` (or
 * `{ maxDuration, seed }`) or the process runs with `BLASTWALL_FAULTS=1`; when off, `inject` throws and no
 * dependency ever gets a slot wrapper, so the call path is unchanged.
 */
import type { Clock } from '../core/clock.js';
import { type Duration, formatDuration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { configError, isPlainObject, objectOption } from '../core/validate.js';
import type { TimelineEntryInput } from '../timeline/index.js';
import type { Fault } from './faults.js';
import { type ActiveFault, type FaultEvent, type FaultHandle, FaultInjector, type InjectOptions, type SlotWrapper } from './injector.js';

/** `createWall({ faults })`: `true`, or the injector's options. */
export type FaultsOption = boolean | { maxDuration?: Duration; seed?: number | string };

/**
 * `wall.faults`: fault injection on a wall's dependencies. Off unless the wall was created with
 * `faults: true` (or `{ maxDuration, seed }`) or the process runs with `BLASTWALL_FAULTS=1`; when off,
 * `inject` and `observe` throw `CONFIG_INVALID` and the rest answer "nothing".
 */
export interface WallFaults {
  /** False when fault injection is off for this wall. */
  readonly enabled: boolean;
  /** Starts an injection on a declared dependency (see `FaultInjector.inject`). Throws when faults are off. */
  inject(dependency: string, fault: Fault, options?: InjectOptions): FaultHandle;
  /** Ends one injection by id. */
  stop(id: number): boolean;
  /** Ends every injection; returns how many ended. */
  clear(): number;
  /** Active injections. */
  active(): ActiveFault[];
  /** Counts attempts reaching a dependency's function slot (used by drills). Throws when faults are off. */
  observe(dependency: string): {
    readonly attempts: number;
    /** Stops counting (idempotent); the slot is removed when nothing else needs it. */
    dispose(): void;
  };
}

const OFF_MESSAGE =
  'Fault injection is off for this wall: create it with createWall({ faults: true }) or run the process with BLASTWALL_FAULTS=1 (never in production)';

class DisabledFaults implements WallFaults {
  readonly enabled = false;
  inject(): FaultHandle {
    throw new BlastwallError('CONFIG_INVALID', OFF_MESSAGE);
  }
  observe(): never {
    throw new BlastwallError('CONFIG_INVALID', OFF_MESSAGE);
  }
  stop(): boolean {
    return false;
  }
  clear(): number {
    return 0;
  }
  active(): ActiveFault[] {
    return [];
  }
}

/** The one disabled instance (it holds no state). */
export const FAULTS_OFF: WallFaults = new DisabledFaults();

class EnabledFaults implements WallFaults {
  readonly enabled = true;
  constructor(readonly injector: FaultInjector) {}
  inject(dependency: string, fault: Fault, options?: InjectOptions): FaultHandle {
    return this.injector.inject(dependency, fault, options);
  }
  observe(dependency: string): { readonly attempts: number; dispose(): void } {
    return this.injector.observe(dependency);
  }
  stop(id: number): boolean {
    return this.injector.stop(id);
  }
  clear(): number {
    return this.injector.clear();
  }
  active(): ActiveFault[] {
    return this.injector.active();
  }
}

/** Whether faults are on: the option (`true` or an options object), else `BLASTWALL_FAULTS=1`. Validates the option. */
export function faultsEnabled(option: unknown, env: NodeJS.ProcessEnv = process.env): boolean {
  if (option === undefined) return env.BLASTWALL_FAULTS === '1' || env.BLASTWALL_FAULTS === 'true';
  if (typeof option === 'boolean') return option;
  if (isPlainObject(option)) return true;
  throw configError('faults', 'a boolean or { maxDuration?, seed? }', option);
}

/** What the wall gives {@link createWallFaults}: its clock and how to reach its dependencies and events. */
export interface WallFaultsHooks {
  /** The wall's clock (injections are timed on it). */
  clock: Clock;
  /** Whether a dependency is declared. */
  knows(dependency: string): boolean;
  /** Installs (or removes, with undefined) a dependency's slot wrapper. */
  setSlot(dependency: string, wrapper: SlotWrapper | undefined): void;
  /** Receives start and end events (the wall emits them and writes them to its timeline). */
  onEvent(event: FaultEvent): void;
}

/** Builds `wall.faults` from the `faults` option (see `faultsEnabled`). */
export function createWallFaults(option: unknown, hooks: WallFaultsHooks): { faults: WallFaults; injector: FaultInjector | undefined } {
  if (!faultsEnabled(option)) return { faults: FAULTS_OFF, injector: undefined };
  const o = isPlainObject(option) ? objectOption('faults', option, ['maxDuration', 'seed']) : {};
  const injector = new FaultInjector({
    clock: hooks.clock,
    knows: hooks.knows,
    ...(o.maxDuration === undefined ? {} : { maxDuration: o.maxDuration as Duration }),
    ...(o.seed === undefined ? {} : { seed: o.seed as number | string }),
  });
  injector.onSlotChange((c) => hooks.setSlot(c.dependency, c.wrapper));
  injector.onFault(hooks.onEvent);
  return { faults: new EnabledFaults(injector), injector };
}

/** The timeline entry of a fault's start or end. */
export function faultTimelineEntry(e: FaultEvent): TimelineEntryInput {
  const scope = e.operations === undefined ? '' : ` in ${e.operations.join(', ')}`;
  return {
    kind: 'fault',
    severity: e.state === 'started' ? 'warning' : 'info',
    title:
      e.state === 'started'
        ? `fault injected on ${e.dependency}: ${e.description} (${Math.round(e.rate * 1000) / 10}% of attempts${scope}, for ${formatDuration(e.endsAt - e.startedAt)})`
        : `fault on ${e.dependency} ended (${e.reason ?? 'expired'}): ${e.description}; hit ${e.hits} of ${e.attempts} attempts`,
    dependency: e.dependency,
    data: {
      id: e.id,
      state: e.state,
      fault: e.fault,
      description: e.description,
      rate: e.rate,
      startedAt: e.startedAt,
      endsAt: e.endsAt,
      attempts: e.attempts,
      hits: e.hits,
      ...(e.reason === undefined ? {} : { reason: e.reason }),
      ...(e.operations === undefined ? {} : { operations: e.operations }),
    },
  };
}
