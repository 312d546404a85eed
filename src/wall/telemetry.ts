import type { Meter } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import { BlastwallError } from '../core/errors.js';
import { configError, isPlainObject, objectOption } from '../core/validate.js';
import { OpenTelemetryExporter } from '../telemetry/otel.js';
import type { PrometheusExporter } from '../telemetry/prometheus.js';
import type { DependencyView, TelemetrySink } from '../telemetry/sink.js';

/** The `telemetry` option of `createWall`: exporters the wall builds for you (loaded only when asked for). */
export interface TelemetryOptions {
  prometheus?: boolean | { registry?: Registry };
  openTelemetry?: boolean | { meter?: Meter };
}

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Calls recorded while exporters load (replayed into them once loaded); beyond this they are counted and dropped. */
const MAX_BUFFERED = 10_000;

type Recorded = { call: Parameters<TelemetrySink['call']> } | { served: Parameters<TelemetrySink['served']> };

/**
 * The wall's telemetry, the one place sinks are assembled: the sinks given in `createWall({ sinks })`, and
 * the exporters asked for in `telemetry`. prom-client (and `@opentelemetry/api` when no meter is given)
 * are loaded by a dynamic import on first need, so a service without telemetry never loads them; calls
 * made while they load are buffered and replayed, so counts stay exact. Dependencies see one sink, or
 * none at all when nothing listens (the hot path then skips telemetry with one check).
 */
export class WallTelemetry {
  private readonly sinks: TelemetrySink[];
  private buffer: Recorded[] | undefined;
  private dropped = 0;
  private readonly loading: Promise<void> | undefined;
  private prometheus: PrometheusExporter | undefined;
  private readonly wantsPrometheus: boolean;
  private target: { telemetry: TelemetrySink | undefined } | undefined;

  constructor(
    private readonly service: string,
    options: unknown,
    sinks: readonly TelemetrySink[],
    private readonly dependencies: () => Iterable<DependencyView>,
  ) {
    this.sinks = [...sinks];
    const tel = objectOption('telemetry', options, ['prometheus', 'openTelemetry']);
    const prometheus = tel.prometheus === undefined || tel.prometheus === false ? undefined : tel.prometheus === true ? {} : objectOption('telemetry.prometheus', tel.prometheus, ['registry']);
    const otel = tel.openTelemetry === undefined || tel.openTelemetry === false ? undefined : tel.openTelemetry === true ? {} : objectOption('telemetry.openTelemetry', tel.openTelemetry, ['meter']);
    this.wantsPrometheus = prometheus !== undefined;
    // a meter given: nothing to load (the exporter file imports only types)
    if (otel?.meter !== undefined) this.sinks.push(new OpenTelemetryExporter(service, healthOf, dependencies, otel.meter as Meter));
    const needsOtelApi = otel !== undefined && otel.meter === undefined;
    if (prometheus !== undefined || needsOtelApi) {
      this.buffer = [];
      this.loading = this.load(prometheus?.registry as Registry | undefined, prometheus !== undefined, needsOtelApi);
    }
  }

  private async load(registry: Registry | undefined, prometheus: boolean, otel: boolean): Promise<void> {
    const loaded: TelemetrySink[] = [];
    try {
      if (prometheus) {
        const { PrometheusExporter } = await import('../telemetry/prometheus.js');
        this.prometheus = new PrometheusExporter(this.service, healthOf, registry);
        loaded.push(this.prometheus);
      }
      if (otel) {
        const { metrics } = await import('@opentelemetry/api');
        loaded.push(new OpenTelemetryExporter(this.service, healthOf, this.dependencies, metrics.getMeter('blastwall')));
      }
    } catch (err) {
      process.emitWarning(`blastwall: telemetry exporters failed to load: ${String(err)}`);
    }
    for (const s of loaded) for (const d of this.dependencies()) s.register?.(d);
    for (const r of this.buffer ?? []) {
      for (const s of loaded) {
        if ('call' in r) s.call(...r.call);
        else s.served(...r.served);
      }
    }
    if (this.dropped > 0) process.emitWarning(`blastwall: ${this.dropped} telemetry records made while the exporters loaded were dropped`);
    this.buffer = undefined;
    this.sinks.push(...loaded);
    if (this.target !== undefined) this.target.telemetry = this.current();
  }

  /** Points `target.telemetry` at the current sink, now and whenever the exporters finish loading. */
  attach(target: { telemetry: TelemetrySink | undefined }): void {
    this.target = target;
    target.telemetry = this.current();
  }

  private current(): TelemetrySink | undefined {
    if (this.buffer !== undefined) return this.buffering();
    return fanOut(this.sinks);
  }

  /** Feeds the sinks already there and records for the exporters still loading. */
  private buffering(): TelemetrySink {
    const live = fanOut(this.sinks);
    const keep = (r: Recorded) => {
      if (this.buffer === undefined) return;
      if (this.buffer.length < MAX_BUFFERED) this.buffer.push(r);
      else this.dropped++;
    };
    return {
      call: (...args) => {
        live?.call(...args);
        keep({ call: args });
      },
      served: (...args) => {
        live?.served(...args);
        keep({ served: args });
      },
    };
  }

  /** A dependency was declared. */
  register(dep: DependencyView): void {
    // exporters still loading register every declared dependency when they arrive
    for (const s of this.sinks) s.register?.(dep);
  }

  /** Prometheus text exposition (requires `telemetry: { prometheus: true }`). */
  async metrics(): Promise<string> {
    if (!this.wantsPrometheus) {
      throw new BlastwallError('CONFIG_INVALID', 'Prometheus telemetry is off: createWall({ telemetry: { prometheus: true } })');
    }
    await this.loading;
    if (this.prometheus === undefined) throw new BlastwallError('CONFIG_INVALID', 'Prometheus telemetry could not load prom-client (is it installed?)');
    return this.prometheus.metrics();
  }

  get contentType(): string {
    return this.prometheus?.contentType ?? PROMETHEUS_CONTENT_TYPE;
  }
}

/** Checks the `sinks` option of `createWall`: an array of objects with `call` and `served` methods. */
export function sinksOption(value: unknown): TelemetrySink[] {
  if (value === undefined) return [];
  const expected = 'an array of telemetry sinks (objects with call() and served() methods)';
  if (!Array.isArray(value)) throw configError('sinks', expected, value);
  value.forEach((s: unknown, i) => {
    if (!isPlainObject(s) && (typeof s !== 'object' || s === null)) throw configError(`sinks[${i}]`, expected, s);
    const sink = s as Record<string, unknown>;
    if (typeof sink.call !== 'function' || typeof sink.served !== 'function') throw configError(`sinks[${i}]`, 'an object with call() and served() methods', s);
  });
  return value as TelemetrySink[];
}

function healthOf(d: DependencyView) {
  return d.classifier.state;
}

/** One sink that feeds every sink given (undefined for none, the sink itself for one). */
function fanOut(sinks: readonly TelemetrySink[]): TelemetrySink | undefined {
  if (sinks.length <= 1) return sinks[0];
  return {
    register: (d) => {
      for (const s of sinks) s.register?.(d);
    },
    call: (...args) => {
      for (const s of sinks) s.call(...args);
    },
    served: (d, src) => {
      for (const s of sinks) s.served(d, src);
    },
  };
}
