/**
 * What a dependency checks on every value its function returns (response size, Standard Schema validation
 * with quarantine), and the small helpers of `Dependency` that need none of its state.
 */
import type { CallContext } from '../core/context.js';
import { callbackFailed } from '../core/callback.js';
import { BlastwallError } from '../core/errors.js';
import { type Next, type Policy, invokeUserFn } from '../core/policy.js';
import { operationStorage } from '../core/operation-context.js';
import { CallKind } from '../health/rolling.js';
import type { Outcome } from './call-types.js';
import type { DependencySpec } from './dependency-spec.js';
import { formatIssues, type StandardIssue, type StandardSchemaV1 } from './schema.js';

/** What the guard reports back to its dependency. */
export interface ResponseGuardHooks {
  /** Records a success (the value passed every check). */
  ok(ctx: CallContext): void;
  /** Records a failure and returns the error the caller sees. */
  error(ctx: CallContext, e: unknown, kind?: CallKind): BlastwallError;
  /** A response failed validation (after the quarantine hook ran). */
  quarantined(): void;
}

/**
 * A dependency's response checks: the response size (`payload.maxResponseBytes`) and the Standard Schema
 * validator, whose failures are quarantined and become `INVALID_RESPONSE`.
 */
export class ResponseGuard {
  constructor(
    private readonly name: string,
    private readonly maxResponseBytes: number,
    private readonly measure: (v: unknown) => number,
    private readonly schema: StandardSchemaV1 | undefined,
    private readonly quarantineHook: DependencySpec['quarantine'],
    private readonly hooks: ResponseGuardHooks,
  ) {}

  /** Returns the value to answer with (the validator's output when there is one), or throws the error recorded. */
  check(ctx: CallContext, value: unknown): unknown {
    if (this.maxResponseBytes !== Number.POSITIVE_INFINITY) {
      let size: number;
      try {
        size = this.measure(value);
      } catch (err) {
        throw this.hooks.error(ctx, err);
      }
      if (size > this.maxResponseBytes) {
        throw this.hooks.error(
          ctx,
          new BlastwallError('PAYLOAD_TOO_LARGE', `Response of ${size} bytes exceeds ${this.maxResponseBytes}`, { dependency: this.name }),
          CallKind.Invalid,
        );
      }
    }
    if (this.schema !== undefined) {
      // the validator is user code: a throw (or a rejection, or a malformed result) is CALLBACK_FAILED
      const invalidValidator = (err: unknown) => this.hooks.error(ctx, callbackFailed(`${this.name}.validate`, err, this.name));
      let result: ReturnType<StandardSchemaV1['~standard']['validate']>;
      try {
        result = this.schema['~standard'].validate(value);
      } catch (err) {
        throw invalidValidator(err);
      }
      if (result instanceof Promise) {
        return result.then(
          (r) => this.afterValidation(ctx, value, r.issues, r.issues === undefined ? r.value : undefined),
          (err: unknown) => {
            throw invalidValidator(err);
          },
        );
      }
      if (result === null || typeof result !== 'object') throw invalidValidator(new TypeError(`the validator returned ${String(result)}`));
      return this.afterValidation(ctx, value, result.issues, result.issues === undefined ? result.value : undefined);
    }
    this.hooks.ok(ctx);
    return value;
  }

  private afterValidation(ctx: CallContext, raw: unknown, issues: ReadonlyArray<StandardIssue> | undefined, parsed: unknown): unknown {
    if (issues !== undefined) {
      if (this.quarantineHook !== undefined) {
        try {
          this.quarantineHook(raw, issues, this.name);
        } catch (err) {
          process.emitWarning(`blastwall: quarantine hook of '${this.name}' threw: ${String(err)}`);
        }
      }
      this.hooks.quarantined();
      throw this.hooks.error(
        ctx,
        new BlastwallError('INVALID_RESPONSE', `Response failed validation: ${formatIssues(issues)}`, {
          dependency: this.name,
          retryable: false,
          details: { issues: issues.slice(0, 10).map((i) => i.message) },
        }),
        CallKind.Invalid,
      );
    }
    this.hooks.ok(ctx);
    return parsed;
  }
}

/** Marks the current operation run degraded (an optional dependency answered with a fallback or a stale value). */
export function markDegraded(): void {
  const op = operationStorage.getStore();
  if (op !== undefined) op.degraded = true;
}

/** The value of an optional call's outcome; an outcome whose fallback threw rejects with that error. */
export function valueOf<T>(o: Outcome<T>): T {
  if (!o.ok && o.error !== undefined) throw o.error;
  return o.value;
}

/** True when the error was caused by a timeout or a passed deadline (it counts as a timeout for health). */
export function hasTimeoutCause(e: BlastwallError): boolean {
  const c = e.cause;
  return c instanceof BlastwallError && (c.code === 'TIMEOUT' || c.code === 'DEADLINE_EXCEEDED');
}

/** A policy linked to the user's function. */
export function linkOf(p: Policy): Next {
  return (ctx) => p.run(ctx, invokeUserFn);
}
