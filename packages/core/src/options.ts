// Option validation with messages that name the option path, e.g.
//   http-roster-admin.http_roster_url: expected a string, got a number
import { z } from "zod";
import { ConfigError } from "./errors.js";

export { z };

export interface OptionIssue {
  path: string;
  message: string;
}

export function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** Human-readable issues of a failed zod parse, each with the full option path. */
export function describeIssues(error: z.ZodError, prefix = ""): OptionIssue[] {
  const out: OptionIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ path: joinPath(prefix, [...issue.path, key]), message: "unknown option" });
      }
      continue;
    }
    out.push({ path: joinPath(prefix, issue.path), message: issueMessage(issue) });
  }
  return out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") {
    const received = (issue as { input?: unknown }).input;
    if (received === undefined) return `is required (expected ${issue.expected})`;
    return `expected ${issue.expected}, got ${describeValue(received)}`;
  }
  return issue.message;
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
  return `${typeof v} (${String(v)})`;
}

/** Parse `raw` against `schema`; throw a ConfigError listing every issue with its path under `prefix`. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, prefix: string): z.output<S> {
  const result = schema.safeParse(raw ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const issues = describeIssues(result.error, prefix);
  throw new ConfigError(
    `invalid options:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`,
    issues,
  );
}

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** "90s", "15m", "28d", "1w", or a bare number of seconds ("30") → milliseconds; undefined if it is none of these. */
export function parseDuration(v: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(v);
  if (!m) return undefined;
  return Number(m[1]) * DURATION_UNITS[(m[2] ?? "s") as keyof typeof DURATION_UNITS];
}

/** A duration: a number of seconds, or a string like "90s", "15m", "28d", "1w". Result in milliseconds. */
export const duration = () =>
  z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === "number") return v * 1000;
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `not a duration: ${JSON.stringify(v)} (use seconds, or e.g. "30s", "15m", "28d")` });
      return z.NEVER;
    }
    return ms;
  });
