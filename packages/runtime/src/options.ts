// Option schemas with zod, for the gateway and the modules' `./gateway` definitions: `moduleOptions()` turns a
// zod schema into the Standard Schema the module contract speaks, with messages that name what is wrong:
//   http-roster-admin.http_roster_url: expected string, got number (42)
//   http-roster-admin.tiemout: unknown option
import { joinPath, parseDuration, validateOptions, type OptionIssue, type StandardSchemaV1 } from "@xmppkit/core";
import { z } from "zod";

export { z };

/** Each issue of a failed zod parse, with its path and a readable message (one per unknown key). */
export function zodIssues(error: z.ZodError): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: [...issue.path, key], message: "unknown option" });
      continue;
    }
    out.push({ path: issue.path, message: issueMessage(issue) });
  }
  return out;
}

/** zodIssues with dotted paths under `prefix`. */
export function describeIssues(error: z.ZodError, prefix = ""): OptionIssue[] {
  return zodIssues(error).map((i) => ({ path: joinPath(prefix, i.path), message: i.message }));
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

/** A module's options schema: `zod` validation, Standard Schema shape, readable issues. */
export function moduleOptions<S extends z.ZodType>(schema: S): StandardSchemaV1<z.input<S>, z.output<S>> & { readonly zod: S } {
  return {
    zod: schema,
    "~standard": {
      version: 1,
      vendor: "xmppkit",
      validate(value) {
        const result = schema.safeParse(value, { reportInput: true });
        return result.success ? { value: result.data } : { issues: zodIssues(result.error) };
      },
    },
  };
}

/** Parse `raw` against `schema`; throw a ConfigError listing every issue with its path under `prefix`. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, prefix: string): z.output<S> {
  return validateOptions(moduleOptions(schema), raw, prefix);
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
