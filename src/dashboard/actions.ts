/**
 * The dashboard's operator actions and how they are guarded. An action is accepted only when every check
 * passes, and only then does it change anything: a refused request writes nothing.
 *
 * - the operator token, `Authorization: Bearer <token>`, compared in constant time;
 * - CSRF: the custom header `X-Blastwall-Action: 1` (a cross-site form or a simple cross-site fetch cannot
 *   send it without a CORS preflight, which the handler never grants), `Sec-Fetch-Site` when present must be
 *   `same-origin` or `none`, `Origin` when present must be the page's own origin, and the body must be
 *   `application/json` (form encodings are refused);
 * - the body is size-limited (413) and validated field by field (400 naming the field).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Mode } from '../degrade/modes.js';
import type { Wall } from '../wall/wall.js';

/**
 * The header (lower-case name) every action request must carry with the value `1`: a cross-site form or a
 * simple cross-site fetch cannot send it without a CORS preflight, which the dashboard never grants.
 */
export const ACTION_HEADER = 'x-blastwall-action';
/** Largest action body accepted (bytes). */
export const MAX_ACTION_BYTES = 4096;
const MAX_TEXT = 500;

/** Where a note is written (a `createTimeline` timeline has it). */
export interface NoteTimeline {
  note(text: string, author?: string): unknown;
}

export interface Refusal {
  status: number;
  code: string;
  detail: string;
}

/** Constant-time comparison of the presented token with the operator token (both hashed first: equal lengths). */
export function tokenMatches(presented: string, token: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The checks that need only the request head; undefined when the request may go on to its body. */
export function checkHead(headers: IncomingHttpHeaders, token: string | undefined): Refusal | undefined {
  if (token === undefined) return { status: 403, code: 'READ_ONLY', detail: 'This dashboard is read-only: no operator token was configured.' };
  const auth = header(headers, 'authorization') ?? '';
  const m = /^Bearer ([^\s]+)$/.exec(auth);
  if (m === null || !tokenMatches(m[1]!, token)) return { status: 401, code: 'UNAUTHORIZED', detail: 'A valid operator token is required (Authorization: Bearer <token>).' };
  if (header(headers, ACTION_HEADER) !== '1') return { status: 403, code: 'CSRF', detail: `The ${ACTION_HEADER}: 1 header is required.` };
  const site = header(headers, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return { status: 403, code: 'CSRF', detail: 'Cross-site requests are refused.' };
  const origin = header(headers, 'origin');
  const host = header(headers, 'host');
  if (origin !== undefined && origin !== 'null') {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || host === undefined || originHost !== host) return { status: 403, code: 'CSRF', detail: 'Cross-origin requests are refused.' };
  } else if (origin === 'null') return { status: 403, code: 'CSRF', detail: 'Cross-origin requests are refused.' };
  const type = (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'Actions take a JSON body (Content-Type: application/json).' };
  const length = header(headers, 'content-length');
  if (length !== undefined && Number(length) > MAX_ACTION_BYTES) return { status: 413, code: 'PAYLOAD_TOO_LARGE', detail: `The body exceeds ${MAX_ACTION_BYTES} bytes.` };
  return undefined;
}

class Invalid extends Error {}

/** Control characters other than tab and newline. */
function hasControl(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10) || c === 127) return true;
  }
  return false;
}

function text(body: Record<string, unknown>, field: string, max = MAX_TEXT): string {
  const v = body[field];
  if (typeof v !== 'string' || v.trim() === '') throw new Invalid(`\`${field}\` must be a non-empty string`);
  if (v.length > max) throw new Invalid(`\`${field}\` must be at most ${max} characters, got ${v.length}`);
  // control characters would make a misleading timeline line
  if (hasControl(v)) throw new Invalid(`\`${field}\` must not contain control characters`);
  return v.trim();
}

function oneOf<T extends string>(body: Record<string, unknown>, field: string, values: readonly T[]): T {
  const v = body[field];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw new Invalid(`\`${field}\` must be one of ${values.join(', ')}`);
  return v as T;
}

const MODES: readonly Mode[] = ['normal', 'degraded', 'read-only', 'shedding'];
/**
 * The operator actions, each a `POST actions/<name>` with a JSON body; every one requires `by` (who, at most
 * 100 characters):
 *
 * - `mode`: `{ mode, reason }` sets the wall's mode (`normal`, `degraded`, `read-only` or `shedding`);
 * - `clear-mode`: `{ reason }` drops the manual mode and hands the mode back to the wall's rules;
 * - `feature`: `{ feature, state, reason }` overrides a feature (`on`, `off`, or `auto` to drop the override);
 * - `note`: `{ text }` writes a note to the timeline (409 when the dashboard has no timeline);
 * - `deploy`: `{ version }` marks a deploy;
 * - `incident`: `{ title, lead }` declares an incident.
 *
 * Text fields are trimmed, non-empty, without control characters and at most 500 characters (`text` 2000).
 */
export const ACTIONS = ['mode', 'clear-mode', 'feature', 'note', 'deploy', 'incident'] as const;
export type ActionName = (typeof ACTIONS)[number];

/**
 * Validates the whole action first, then applies it (so a bad field changes nothing). Every action names
 * who (`by`); the wall records it as a timeline entry with who and why.
 */
export function applyAction(
  name: string,
  raw: Buffer,
  wall: Wall,
  timeline: NoteTimeline | undefined,
): { status: number; body: Record<string, unknown> } | Refusal {
  if (!(ACTIONS as readonly string[]).includes(name)) return { status: 404, code: 'NOT_FOUND', detail: `No action named ${name.slice(0, 40)}.` };
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Invalid('the body must be a JSON object');
    body = parsed as Record<string, unknown>;
  } catch (err) {
    return { status: 400, code: 'BAD_REQUEST', detail: err instanceof Invalid ? err.message : 'The body is not valid JSON.' };
  }
  let apply: () => Record<string, unknown>;
  try {
    const by = text(body, 'by', 100);
    switch (name as ActionName) {
      case 'mode': {
        const mode = oneOf(body, 'mode', MODES);
        const why = text(body, 'reason');
        apply = () => {
          wall.setMode(mode, { reason: `${why} (by ${by})` });
          return { mode };
        };
        break;
      }
      case 'clear-mode': {
        const why = text(body, 'reason');
        apply = () => {
          wall.clearMode(`${why} (by ${by})`);
          return { mode: wall.mode };
        };
        break;
      }
      case 'feature': {
        const feature = text(body, 'feature', 100);
        const state = oneOf(body, 'state', ['on', 'off', 'auto'] as const);
        const why = text(body, 'reason');
        if (!wall.features().some((f) => f.name === feature)) throw new Invalid(`\`feature\`: no feature named ${feature}`);
        apply = () => {
          wall.setFeature(feature, state, `${why} (by ${by})`);
          return { feature, state };
        };
        break;
      }
      case 'note': {
        const note = text(body, 'text', 2000);
        if (timeline === undefined) return { status: 409, code: 'NO_TIMELINE', detail: 'Notes need a timeline: pass dashboardHandler(wall, { timeline }).' };
        apply = () => {
          timeline.note(note, by);
          return { note };
        };
        break;
      }
      case 'deploy': {
        const version = text(body, 'version', 100);
        apply = () => {
          wall.markDeploy(version, { by });
          return { version };
        };
        break;
      }
      case 'incident': {
        const title = text(body, 'title');
        const lead = text(body, 'lead', 100);
        apply = () => {
          wall.declareIncident({ lead, title: `${title} (declared by ${by})` });
          return { lead, title };
        };
        break;
      }
    }
  } catch (err) {
    if (err instanceof Invalid) return { status: 400, code: 'BAD_REQUEST', detail: err.message };
    throw err;
  }
  try {
    return { status: 200, body: { ok: true, action: name, ...apply() } };
  } catch (err) {
    // the wall's own validation (a closed wall, a mode it refuses): a clear refusal, no internal text
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'ACTION_FAILED';
    return { status: 409, code, detail: 'The wall refused the action.' };
  }
}
