import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Metric,
} from 'prom-client';

export { Registry };
export type MetricsRegistry = Registry;

export interface CreateMetricsRegistryOptions {
  service: string;
  /** Collect prom-client's process/runtime metrics (default true). */
  defaultMetrics?: boolean;
  /** Extra default labels besides `service`. */
  labels?: Record<string, string>;
}

/** One registry per service: default metrics plus a `service` default label on every series. */
export function createMetricsRegistry(options: CreateMetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ ...options.labels, service: options.service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

type MetricCtor<M> = new (config: never) => M;

function getOrCreate<M extends Metric<string>>(
  registry: Registry,
  ctor: MetricCtor<M>,
  config: { name: string; labelNames?: readonly string[] },
  create: () => M,
): M {
  const existing = registry.getSingleMetric(config.name);
  if (existing) {
    if (!(existing instanceof ctor)) {
      throw new TypeError(`Metric ${config.name} is already registered with another type`);
    }
    return existing as M;
  }
  return create();
}

/** Returns the registry's counter of that name, creating it on first use (no double registration). */
export function getOrCreateCounter<T extends string>(
  registry: Registry,
  config: Omit<CounterConfiguration<T>, 'registers'>,
): Counter<T> {
  return getOrCreate(registry, Counter as MetricCtor<Counter<T>>, config, () => new Counter<T>({ ...config, registers: [registry] }));
}

export function getOrCreateGauge<T extends string>(
  registry: Registry,
  config: Omit<GaugeConfiguration<T>, 'registers'>,
): Gauge<T> {
  return getOrCreate(registry, Gauge as MetricCtor<Gauge<T>>, config, () => new Gauge<T>({ ...config, registers: [registry] }));
}

export function getOrCreateHistogram<T extends string>(
  registry: Registry,
  config: Omit<HistogramConfiguration<T>, 'registers'>,
): Histogram<T> {
  return getOrCreate(registry, Histogram as MetricCtor<Histogram<T>>, config, () => new Histogram<T>({ ...config, registers: [registry] }));
}
