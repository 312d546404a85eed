/** Route keys (`"GET /users/:id"`, `"/healthz"`) compiled for the HTTP guard, and route specs validated. */
import type { Duration } from '../core/duration.js';
import { configError, enumOption, intOption, objectOption, stringOption } from '../core/validate.js';
import { PRIORITIES } from '../wall/context.js';
import type { RouteSpec } from './guard.js';

/** A route key compiled: its method (any when undefined), a pattern for the path, and its validated spec. */
export interface CompiledRoute {
  key: string;
  method: string | undefined;
  pattern: RegExp;
  spec: RouteSpec;
}

/** Compiles `"METHOD /path/:param"` (or `"/path"`, any method; `*` matches the rest) and validates its spec. */
export function compileRoute(key: string, spec: RouteSpec): CompiledRoute {
  const m = /^(?:([A-Z]+)\s+)?(\/\S*)$/.exec(key);
  if (m === null) throw configError(`routes['${key}']`, 'a key like "GET /users/:id" or "/healthz"', key);
  const path = m[2]!;
  const re = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { key, method: m[1], pattern: new RegExp(`^${re}/?$`), spec: routeSpec(`routes['${key}']`, spec) };
}

/** Validates a route spec (`operation`, `priority`, `deadline`, `maxBodyBytes`), naming `field` in errors. */
export function routeSpec(field: string, spec: unknown): RouteSpec {
  const o = objectOption(field, spec, ['operation', 'priority', 'deadline', 'maxBodyBytes']);
  const out: RouteSpec = {};
  if (o.operation !== undefined) out.operation = stringOption(`${field}.operation`, o.operation);
  if (o.priority !== undefined) out.priority = enumOption(`${field}.priority`, o.priority, PRIORITIES);
  if (o.deadline !== undefined) out.deadline = o.deadline as Duration;
  if (o.maxBodyBytes !== undefined) out.maxBodyBytes = intOption(`${field}.maxBodyBytes`, o.maxBodyBytes, 0);
  return out;
}
