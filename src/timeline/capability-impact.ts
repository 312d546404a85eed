import type { TimelineEntry } from './index.js';

const RANK: Record<string, number> = { available: 0, limited: 1, down: 2 };

function dur(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The postmortem's "Impact per capability" section, from the `capability` entries the wall writes when a
 * declared capability changes status: the worst status reached, how long it was limited and down within
 * the window, what it missed, and who owns it. An incident's lead (the `incident` entries) is named too.
 */
export function capabilityImpactSection(es: readonly TimelineEntry[], to: number): string[] {
  const out: string[] = ['## Impact per capability', ''];
  const leads = es.filter((e) => e.kind === 'incident' && typeof e.data?.lead === 'string');
  for (const l of leads) out.push(`- Incident led by **${String(l.data!.lead)}** from ${new Date(l.at).toISOString()}: ${l.title}`);
  if (leads.length > 0) out.push('');
  const caps = new Map<string, { worst: string; since: number | undefined; state: string; limitedMs: number; downMs: number; missing: Set<string>; owners: Set<string> }>();
  for (const e of es) {
    if (e.kind !== 'capability' || typeof e.data?.capability !== 'string') continue;
    const name = e.data.capability;
    const c = caps.get(name) ?? { worst: 'available', since: undefined, state: String(e.data.from ?? 'available'), limitedMs: 0, downMs: 0, missing: new Set<string>(), owners: new Set<string>() };
    if (c.since !== undefined) {
      if (c.state === 'limited') c.limitedMs += e.at - c.since;
      if (c.state === 'down') c.downMs += e.at - c.since;
    }
    c.state = String(e.data.to);
    c.since = e.at;
    if ((RANK[c.state] ?? 0) > (RANK[c.worst] ?? 0)) c.worst = c.state;
    for (const m of (e.data.missing as { dependency?: string; served?: string }[] | undefined) ?? []) if (m.dependency !== undefined) c.missing.add(`${m.dependency} (${m.served ?? '?'})`);
    for (const o of (e.data.owners as string[] | undefined) ?? []) c.owners.add(o);
    caps.set(name, c);
  }
  if (caps.size === 0) {
    out.push('No capability changed status (or none is declared: `wall.operation(name, { capability })`).', '');
    return out;
  }
  out.push('| capability | worst | limited for | down for | missing | owner |', '|---|---|---:|---:|---|---|');
  for (const [name, c] of caps) {
    if (c.since !== undefined && c.state === 'limited') c.limitedMs += to - c.since;
    if (c.since !== undefined && c.state === 'down') c.downMs += to - c.since;
    out.push(`| ${cell(name)} | ${c.worst} | ${dur(c.limitedMs)} | ${dur(c.downMs)} | ${cell([...c.missing].join(', ') || '—')} | ${cell([...c.owners].join(', ') || '—')} |`);
  }
  out.push('');
  return out;
}
