import { describe, expect, it } from 'vitest';
import { TimelineTail, activeAlerts } from '../../src/dashboard/state.js';
import type { TimelineEntry, TimelineQuery } from '../../src/timeline/index.js';

function entry(seq: number, at: number, extra: Partial<TimelineEntry> = {}): TimelineEntry {
  return { seq, at, kind: 'note', service: 's', severity: 'info', title: `e${seq}`, dependency: null, operation: null, data: null, ...extra };
}

class FakeTimeline {
  rows: TimelineEntry[] = [];
  asked: TimelineQuery[] = [];
  query(q: TimelineQuery = {}): TimelineEntry[] {
    this.asked.push(q);
    return this.rows.filter((e) => e.at >= (q.from ?? -Infinity)).sort((a, b) => a.at - b.at || a.seq - b.seq).slice(0, q.limit ?? 100_000);
  }
}

describe('TimelineTail', () => {
  it('reads only what is new (less a minute), keeps each entry once, and keeps late entries', async () => {
    const t = new FakeTimeline();
    const tail = new TimelineTail();
    t.rows.push(entry(1, 1_000_000), entry(2, 1_100_000));
    expect((await tail.read(t, 0)).map((e) => e.seq)).toEqual([1, 2]);
    t.rows.push(entry(3, 1_200_000), entry(4, 1_150_000)); // 4 recorded late, with an earlier time
    expect((await tail.read(t, 0)).map((e) => e.seq)).toEqual([1, 2, 4, 3]);
    expect(t.asked.at(-1)!.from).toBe(1_100_000 - 60_000);
    // entries older than the window are dropped
    expect((await tail.read(t, 1_150_000)).map((e) => e.seq)).toEqual([1, 2, 4, 3]); // nothing new: unchanged
    t.rows.push(entry(5, 1_300_000));
    expect((await tail.read(t, 1_150_000)).map((e) => e.seq)).toEqual([4, 3, 5]);
  });

  it('keeps the last entries when the timeline cannot be read', async () => {
    const tail = new TimelineTail();
    const ok = new FakeTimeline();
    ok.rows.push(entry(1, 10));
    await tail.read(ok, 0);
    const locked = { query: (): TimelineEntry[] => { throw new Error('locked'); } };
    expect((await tail.read(locked, 0)).map((e) => e.seq)).toEqual([1]);
    // a PostgreSQL timeline answers with a promise; one that rejects is the same
    const down = { query: (): Promise<TimelineEntry[]> => Promise.reject(new Error('down')) };
    expect((await tail.read(down, 0)).map((e) => e.seq)).toEqual([1]);
    const pg = { query: (): Promise<TimelineEntry[]> => Promise.resolve([entry(2, 20)]) };
    expect((await tail.read(pg, 0)).map((e) => e.seq)).toEqual([1, 2]);
  });
});

describe('activeAlerts', () => {
  it('lists drift and burn-rate alerts raised and not cleared since', () => {
    const raised = (seq: number, signal: string): TimelineEntry => entry(seq, seq, { kind: 'drift', dependency: 'payments', data: { state: 'raised', signal } });
    const alerts = activeAlerts([raised(1, 'latency.p99'), raised(2, 'error.ratio'), entry(3, 3, { kind: 'drift', dependency: 'payments', data: { state: 'cleared', signal: 'latency.p99' } })]);
    expect(alerts.map((a) => a.title)).toEqual(['e2']);
  });
});
