/**
 * Where a wall's events go: to the listeners of `wall.onEvent`, and, when the wall has a timeline, to the
 * timeline as entries (worded by `timeline-entry.ts`). A timeline that throws is reported as a process
 * warning, never passed on to the caller.
 */
import { Emitter, type Subscribe } from '../core/events.js';
import { configError } from '../core/validate.js';
import type { TimelineEntryInput } from '../timeline/index.js';
import type { WallEvent } from './events.js';
import { type OwnerLookup, toTimelineEntry } from './timeline-entry.js';
import type { WallOptions } from './wall-options.js';

/** A wall's events, to its listeners and its timeline. */
export class EventStream {
  private readonly listeners = new Emitter<WallEvent>();
  /** Subscribes a listener to every event. */
  readonly subscribe: Subscribe<WallEvent> = this.listeners.subscribe;
  /** The `timeline` option, checked (undefined without one). */
  readonly timeline: WallOptions['timeline'];

  constructor(
    timeline: unknown,
    /** Who owns the dependency or operation an event names (its timeline entry carries owner and runbook). */
    private readonly ownerOf: OwnerLookup,
  ) {
    if (timeline !== undefined && (timeline === null || typeof (timeline as { record?: unknown }).record !== 'function')) {
      throw configError('timeline', 'an object with a record(entry) method (see createTimeline)', timeline);
    }
    this.timeline = timeline as WallOptions['timeline'];
  }

  /** True while at least one listener is subscribed (check it before building an event only listeners get). */
  get active(): boolean {
    return this.listeners.active;
  }

  /** Tells the listeners, and records the event on the timeline (dead letters only as the signals feed's summary). */
  emit(e: WallEvent): void {
    if (this.listeners.active) this.listeners.emit(e);
    if (this.timeline !== undefined && e.type !== 'deferred-dead') this.record({ at: e.at, ...toTimelineEntry(e, this.ownerOf) });
  }

  /** Writes a timeline entry; a timeline that throws is reported, never passed on to the caller. */
  record(entry: TimelineEntryInput): void {
    try {
      this.timeline?.record(entry);
    } catch (err) {
      process.emitWarning(`blastwall: the timeline refused an entry: ${String(err)}`);
    }
  }

  /** Lets every listener go and flushes the timeline (it stays the caller's to close). */
  close(): void {
    this.listeners.clear();
    try {
      this.timeline?.flush?.(); // what the wall recorded is written before close() returns; the timeline stays the caller's to close
    } catch (err) {
      process.emitWarning(`blastwall: the timeline could not be flushed at close: ${String(err)}`);
    }
  }
}
