// Prometheus metrics (text format for /metrics): stanzas in/out, IQ latency, reconnects, module counters.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface Metrics {
  readonly registry: Registry;
  readonly stanzasIn: Counter<"name">;
  readonly stanzasOut: Counter<"name">;
  readonly iqDuration: Histogram<"outcome">;
  readonly reconnects: Counter;
  readonly linkUp: Gauge;
  /** A counter for a module, named `xmppkit_<module>_<name>` (dashes become underscores). */
  counter<L extends string = never>(module: string, name: string, help: string, labelNames?: L[]): Counter<L>;
  gauge<L extends string = never>(module: string, name: string, help: string, labelNames?: L[]): Gauge<L>;
  /** The exposition text. */
  text(): Promise<string>;
  readonly contentType: string;
}

const clean = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, "_");

export function createMetrics(): Metrics {
  const registry = new Registry();
  const stanzasIn = new Counter({ name: "xmppkit_stanzas_in_total", help: "Stanzas received, by name", labelNames: ["name"], registers: [registry] });
  const stanzasOut = new Counter({ name: "xmppkit_stanzas_out_total", help: "Stanzas sent, by name", labelNames: ["name"], registers: [registry] });
  const iqDuration = new Histogram({
    name: "xmppkit_iq_request_duration_seconds",
    help: "Round trip of IQ requests sent by xmppkit",
    labelNames: ["outcome"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const reconnects = new Counter({ name: "xmppkit_reconnects_total", help: "Reconnect attempts to the server", registers: [registry] });
  const linkUp = new Gauge({ name: "xmppkit_link_up", help: "1 while the link to the server is up", registers: [registry] });
  const made = new Map<string, Counter<string> | Gauge<string>>();

  return {
    registry,
    stanzasIn,
    stanzasOut,
    iqDuration,
    reconnects,
    linkUp,
    counter(module, name, help, labelNames = []) {
      const full = `xmppkit_${clean(module)}_${clean(name)}`;
      let c = made.get(full);
      if (!c) made.set(full, (c = new Counter({ name: full, help, labelNames, registers: [registry] })));
      return c as Counter<never>;
    },
    gauge(module, name, help, labelNames = []) {
      const full = `xmppkit_${clean(module)}_${clean(name)}`;
      let g = made.get(full);
      if (!g) made.set(full, (g = new Gauge({ name: full, help, labelNames, registers: [registry] })));
      return g as Gauge<never>;
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
