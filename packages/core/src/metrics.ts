// The metrics contract: counters, gauges and histograms by module, named `xmppkit_<module>_<name>` (or
// `xmppkit_<name>` for core's own). Implementations live elsewhere (@xmppkit/runtime: prom-client, with the
// text for /metrics); a bot that does not count passes nothing, or noMetrics().

/** Label values by label name; a label left out is empty. */
export type LabelValues<L extends string> = { [K in L]?: string | number };

export interface CounterMetric<L extends string = never> {
  inc(labels?: LabelValues<L>, by?: number): void;
}

export interface GaugeMetric<L extends string = never> {
  set(value: number, labels?: LabelValues<L>): void;
}

export interface HistogramMetric<L extends string = never> {
  observe(value: number, labels?: LabelValues<L>): void;
}

export interface Metrics {
  /** A counter `xmppkit_<module>_<name>` (dashes become underscores); the same name gives the same counter. */
  counter<L extends string = never>(module: string, name: string, help: string, labelNames?: L[]): CounterMetric<L>;
  gauge<L extends string = never>(module: string, name: string, help: string, labelNames?: L[]): GaugeMetric<L>;
  /** `buckets` in the unit of the observed values (seconds for durations). */
  histogram<L extends string = never>(module: string, name: string, help: string, labelNames?: L[], buckets?: number[]): HistogramMetric<L>;
}

/** The full metric name for `module` and `name` ("" as module: core's own). */
export function metricName(module: string, name: string): string {
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, "_");
  return module ? `xmppkit_${clean(module)}_${clean(name)}` : `xmppkit_${clean(name)}`;
}

/** Metrics that count nothing. */
export function noMetrics(): Metrics {
  const inc = () => undefined;
  return {
    counter: () => ({ inc }),
    gauge: () => ({ set: inc }),
    histogram: () => ({ observe: inc }),
  };
}
