import type { Meter } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import { BlastwallError } from '../core/errors.js';
import { objectOption } from '../core/validate.js';
import { OpenTelemetryExporter } from '../telemetry/otel.js';
import { PrometheusExporter } from '../telemetry/prometheus.js';
import type { Dependency, TelemetrySink } from './dependency.js';

/** The `telemetry` option of `createWall`. */
export interface TelemetryOptions {
  prometheus?: boolean | { registry?: Registry };
  openTelemetry?: boolean | { meter?: Meter };
}

/** The wall's telemetry: the exporters asked for in `telemetry`, seen by dependencies as one sink. */
export class WallTelemetry {
  /** Undefined when no exporter is enabled: the hot path then skips telemetry with one check. */
  readonly sink: TelemetrySink | undefined;
  private readonly prometheus: PrometheusExporter | undefined;

  constructor(service: string, options: unknown, dependencies: () => Iterable<Dependency>) {
    const tel = objectOption('telemetry', options, ['prometheus', 'openTelemetry']);
    const healthOf = (d: Dependency) => d.classifier.state;
    const sinks: TelemetrySink[] = [];
    if (tel.prometheus !== undefined && tel.prometheus !== false) {
      const p = tel.prometheus === true ? {} : objectOption('telemetry.prometheus', tel.prometheus, ['registry']);
      this.prometheus = new PrometheusExporter(service, healthOf, p.registry as Registry | undefined);
      sinks.push(this.prometheus);
    }
    if (tel.openTelemetry !== undefined && tel.openTelemetry !== false) {
      const p = tel.openTelemetry === true ? {} : objectOption('telemetry.openTelemetry', tel.openTelemetry, ['meter']);
      sinks.push(new OpenTelemetryExporter(service, healthOf, dependencies, p.meter as Meter | undefined));
    }
    this.sink = fanOut(sinks);
  }

  register(dep: Dependency): void {
    this.prometheus?.register(dep);
  }

  /** Prometheus text exposition (requires `telemetry: { prometheus: true }`). */
  metrics(): Promise<string> {
    if (this.prometheus === undefined) {
      return Promise.reject(new BlastwallError('CONFIG_INVALID', 'Prometheus telemetry is off: createWall({ telemetry: { prometheus: true } })'));
    }
    return this.prometheus.metrics();
  }

  get contentType(): string {
    return this.prometheus?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8';
  }
}

/** One sink that feeds every sink given (undefined for none, the sink itself for one). */
function fanOut(sinks: readonly TelemetrySink[]): TelemetrySink | undefined {
  if (sinks.length <= 1) return sinks[0];
  return {
    call: (...args) => {
      for (const s of sinks) s.call(...args);
    },
    served: (d, src) => {
      for (const s of sinks) s.served(d, src);
    },
  };
}
