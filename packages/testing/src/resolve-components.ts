// The components a test server serves, with their defaults: the first is gateway.<domain>, the others
// component<N>.<domain>, each with a random secret unless given. Shared by the Prosody and ejabberd harnesses.
import { randomBytes } from "node:crypto";
import type { ComponentOptions } from "./prosody.js";

export type ResolvedComponent = ComponentOptions & { domain: string; secret: string };

export function resolveComponents(componentOpts: ComponentOptions[], domain: string): ResolvedComponent[] {
  return componentOpts.map((c, i) => ({
    ...c,
    domain: c.domain ?? (i === 0 ? `gateway.${domain}` : `component${i + 1}.${domain}`),
    secret: c.secret ?? randomBytes(12).toString("hex"),
  }));
}
