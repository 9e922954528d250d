// Prometheus metrics (text format for /metrics) behind core's Metrics contract: core's own stanza, IQ and
// link metrics, and the modules' counters, gauges and histograms.
//
// prom-client's main entry loads all it has: the push gateway (https, zlib), cluster aggregation, the default
// process metrics and @opentelemetry/api, ~120 modules that cost 20–100 ms at start. The four classes used
// here come from their own files instead, when the first Metrics is created (prom-client is pinned, and a test
// checks that they are the very classes its main entry exports).
import { createRequire } from "node:module";
import { metricName, type CounterMetric, type GaugeMetric, type HistogramMetric, type LabelValues, type Metrics } from "@xmppkit/core";
import type { Counter, Gauge, Histogram, Registry } from "prom-client";

interface PromClasses {
  Registry: typeof Registry;
  Counter: typeof Counter;
  Gauge: typeof Gauge;
  Histogram: typeof Histogram;
}
let classes: PromClasses | undefined;

/** @internal prom-client's Registry, Counter, Gauge and Histogram, loaded from their files on first use. */
export function promClasses(): PromClasses {
  if (!classes) {
    const load = createRequire(import.meta.url);
    classes = {
      Registry: load("prom-client/lib/registry.js") as typeof Registry,
      Counter: load("prom-client/lib/counter.js") as typeof Counter,
      Gauge: load("prom-client/lib/gauge.js") as typeof Gauge,
      Histogram: load("prom-client/lib/histogram.js") as typeof Histogram,
    };
  }
  return classes;
}

export interface PrometheusMetrics extends Metrics {
  readonly registry: Registry;
  /** The exposition text. */
  text(): Promise<string>;
  readonly contentType: string;
}

type Made = Counter<string> | Gauge<string> | Histogram<string>;

export function createMetrics(): PrometheusMetrics {
  const { Registry, Counter, Gauge, Histogram } = promClasses();
  const registry = new Registry();
  const made = new Map<string, Made>();
  function make<M extends Made>(module: string, name: string, create: (full: string) => M): M {
    const full = metricName(module, name);
    let m = made.get(full);
    if (!m) {
      m = create(full);
      made.set(full, m);
    }
    return m as M;
  }
  // prom-client keeps (and annotates) the labels object it is given: pass a copy.
  const labels = <L extends string>(l: LabelValues<L> | undefined) => ({ ...l }) as Partial<Record<string, string | number>>;
  return {
    registry,
    counter<L extends string = never>(module: string, name: string, help: string, labelNames: L[] = []): CounterMetric<L> {
      const c = make(module, name, (full) => new Counter({ name: full, help, labelNames, registers: [registry] }));
      return {
        inc: (l, by = 1) => {
          c.inc(labels(l), by);
        },
      };
    },
    gauge<L extends string = never>(module: string, name: string, help: string, labelNames: L[] = []): GaugeMetric<L> {
      const g = make(module, name, (full) => new Gauge({ name: full, help, labelNames, registers: [registry] }));
      return {
        set: (value, l) => {
          g.set(labels(l), value);
        },
      };
    },
    histogram<L extends string = never>(module: string, name: string, help: string, labelNames: L[] = [], buckets?: number[]): HistogramMetric<L> {
      const h = make(module, name, (full) => new Histogram({ name: full, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) }));
      return {
        observe: (value, l) => {
          h.observe(labels(l), value);
        },
      };
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
