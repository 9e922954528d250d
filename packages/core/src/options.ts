// Option validation through any Standard Schema, with messages that name the option path, e.g.
//   http-roster-admin.http_roster_url: expected a string, got a number
import { ConfigError } from "./errors.js";
import type { StandardSchemaV1 } from "./standard-schema.js";

export interface OptionIssue {
  path: string;
  message: string;
}

/** `prefix` and a path as one dotted string: `rooms[0].nick`. */
export function joinPath(prefix: string, path: ReadonlyArray<PropertyKey | StandardSchemaV1.PathSegment>): string {
  let out = prefix;
  for (const segment of path) {
    const p = typeof segment === "object" ? segment.key : segment;
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** Validate `raw` with `schema`; throw a ConfigError listing every issue with its path under `prefix`. */
export function validateOptions<S extends StandardSchemaV1>(schema: S, raw: unknown, prefix: string): StandardSchemaV1.InferOutput<S> {
  const result = schema["~standard"].validate(raw ?? {});
  if (result instanceof Promise) throw new TypeError(`${prefix}: the options schema must validate synchronously`);
  if (!result.issues) return result.value as StandardSchemaV1.InferOutput<S>;
  const issues = result.issues.map((i) => ({ path: joinPath(prefix, i.path ?? []), message: i.message }));
  throw new ConfigError(`invalid options:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`, issues);
}

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** "90s", "15m", "28d", "1w", or a bare number of seconds ("30") → milliseconds; undefined if it is none of these. */
export function parseDuration(v: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(v);
  if (!m) return undefined;
  return Number(m[1]) * DURATION_UNITS[(m[2] ?? "s") as keyof typeof DURATION_UNITS];
}
