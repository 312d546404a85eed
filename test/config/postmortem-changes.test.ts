import { describe, expect, it } from 'vitest';
import { postmortem } from '../../src/timeline/postmortem.js';
import type { TimelineEntry } from '../../src/timeline/index.js';

const T = Date.parse('2026-11-29T10:00:00Z');
let seq = 0;
const e = (min: number, kind: string, title: string, severity: TimelineEntry['severity'] = 'info', data: Record<string, unknown> | null = null): TimelineEntry => ({
  seq: ++seq,
  at: T + min * 60_000,
  kind,
  service: 'shop',
  severity,
  title,
  dependency: kind === 'health' ? 'payments' : null,
  operation: null,
  data,
});

describe('postmortem: changes before the first signal', () => {
  it('lists every config change, deploy and flag change in the hour before the first signal, marking automatic rollbacks', () => {
    const entries = [
      e(-90, 'deploy', 'deploy v1.3.0 by ci'), // more than an hour before: not listed
      e(-40, 'deploy', 'deploy v1.4.0 by ci'),
      e(-20, 'config', 'config v3 by ana: halve the timeout — dependencies.payments.timeout: "200ms" → "100ms"', 'info', { version: 3, automatic: false }),
      e(-5, 'flag', 'feature banner → off: cost'),
      e(0, 'health', 'payments healthy → unavailable', 'critical'),
      e(1, 'config', 'config v4: rolled back to v2 by the wall: guard of v3: error ratio of payments 0% → 31%', 'critical', { version: 4, automatic: true }),
    ];
    const md = postmortem(entries, { from: T - 10 * 60_000, to: T + 30 * 60_000 });
    const section = md.split('## Changes in the hour before the first signal')[1]!.split('##')[0]!;
    expect(section).not.toMatch(/v1\.3\.0/);
    expect(section).toMatch(/\(40m( 0s)? before\) deploy: deploy v1\.4\.0/);
    expect(section).toMatch(/\(20m( 0s)? before\) config: config v3 by ana/);
    expect(section).toMatch(/\(5m( 0s)? before\) flag: feature banner → off/);
    // the rollback came after the first signal: it is an automatic action, not a change before it
    expect(md.split('## Automatic actions taken')[1]!.split('##')[0]).toMatch(/config v4: rolled back to v2 by the wall/);
  });
});
