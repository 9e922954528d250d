// Option schemas with zod, for the gateway and the modules' `./gateway` definitions: `moduleOptions()` turns a
// zod schema into the Standard Schema the module contract speaks, with messages that name what is wrong:
//   http-roster-admin.http_roster_url: expected string, got number (42)
//   http-roster-admin.http_roster_timout: unknown option (did you mean "http_roster_timeout"?)
// Values come from YAML after `${VAR}` substitution, so the parse takes two of Prosody's conveniences
// (parseConfigValue): one string for a list, a number written as a string.
import { joinPath, parseDuration, validateOptions, type OptionIssue, type StandardSchemaV1 } from "@xmppkit/core";
import { z } from "zod";

export { z };

/**
 * Each issue of a failed zod parse, with its path and a readable message (one per unknown key). With the
 * `schema` that failed, an unknown key names the known one it is a typo of: `unknown option (did you mean
 * "http_roster_timeout"?)`.
 */
export function zodIssues(error: z.ZodError, schema?: z.ZodType): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      const known = schema ? objectKeysAt(schema, issue.path) : [];
      for (const key of issue.keys) {
        const near = closestName(key, known);
        out.push({ path: [...issue.path, key], message: near ? `unknown option (did you mean "${near}"?)` : "unknown option" });
      }
      continue;
    }
    out.push({ path: issue.path, message: issueMessage(issue) });
  }
  return out;
}

/** zodIssues with dotted paths under `prefix`. */
export function describeIssues(error: z.ZodError, prefix = "", schema?: z.ZodType): OptionIssue[] {
  return zodIssues(error, schema).map((i) => ({ path: joinPath(prefix, i.path), message: i.message }));
}

/**
 * The distance between two words: insertions, deletions, substitutions and swaps of two neighbours, one
 * each (Damerau-Levenshtein, optimal string alignment). Neither zod nor any other dependency exports one,
 * and it is a dozen lines; it serves the "did you mean" of the gateway's config and of the modules' options.
 */
export function editDistance(a: string, b: string): number {
  // d[i][j]: the distance between a's first i characters and b's first j.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate `word` is most likely a typo of (case, `-` and `_` aside), or undefined when none is close:
 * at most one edit in a word of up to 5 characters, two up to 8, three beyond.
 */
export function closestName(word: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string) => s.toLowerCase().replaceAll("-", "_");
  const w = norm(word);
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    if (name === word) continue;
    const distance = editDistance(w, norm(name));
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** The zod definition fields objectKeysAt walks through (zod 4's `_zod.def`). */
interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  getter?: () => z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
}

/** The keys the object schemas at `path` in `schema` know (through defaults, optionals, pipes, unions). */
function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  const visit = (s: z.ZodType | undefined, rest: readonly PropertyKey[], depth: number): void => {
    if (!s || depth > 64) return;
    const def = s._zod.def as unknown as SchemaDef;
    switch (def.type) {
      case "object":
        if (!rest.length) for (const k of Object.keys(def.shape ?? {})) keys.add(k);
        else if (typeof rest[0] === "string") visit(def.shape?.[rest[0]], rest.slice(1), depth + 1);
        return;
      case "array":
        if (typeof rest[0] === "number") visit(def.element, rest.slice(1), depth + 1);
        return;
      case "record":
        if (rest.length) visit(def.valueType, rest.slice(1), depth + 1);
        return;
      case "pipe":
        visit(def.in, rest, depth + 1);
        visit(def.out, rest, depth + 1);
        return;
      case "union":
        for (const o of def.options ?? []) visit(o, rest, depth + 1);
        return;
      case "intersection":
        visit(def.left, rest, depth + 1);
        visit(def.right, rest, depth + 1);
        return;
      case "lazy":
        visit(def.getter?.(), rest, depth + 1);
        return;
      default:
        // optional, nullable, default, prefault, catch, readonly, nonoptional: the schema they wrap
        visit(def.innerType, rest, depth + 1);
    }
  };
  visit(schema, path, 0);
  return [...keys];
}

/** A string that is a decimal number (`"500"`, `" 2.5 "`, `"-1e3"`) as that number, else undefined. */
function numberIn(s: string): number | undefined {
  return /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*$/.test(s) ? Number(s) : undefined;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const seg of path) {
    if (!v || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** `value` with `replacement` at `path`: the objects and arrays along the path are copied, `value` is left as it was. */
function withValueAt(value: unknown, path: readonly PropertyKey[], replacement: unknown): unknown {
  if (!path.length) return replacement;
  const [head, ...rest] = path as [PropertyKey, ...PropertyKey[]];
  const inner = withValueAt((value as Record<PropertyKey, unknown>)[head], rest, replacement);
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? inner : v));
  return { ...(value as object), [head]: inner };
}

const pathKey = (path: readonly PropertyKey[]) => JSON.stringify(path.map(String));

/**
 * Parse a value from the config file (YAML, after `${VAR}` substitution) with Prosody's conveniences, for
 * any schema, at any depth:
 *   - one string where a list is wanted is a list of that string (Prosody's get_option_array and
 *     get_option_set): `report_affiliations_trusted_servers: rtbl.example.org`. Only for a list whose items
 *     may be strings: for a list of mappings, the error still says a list was expected;
 *   - a string that is a number where a number is wanted is that number: `${LIMIT:-500}` gives "500".
 * Only here, at the config boundary: the schemas (and the options code passes) stay strict. Each failed
 * parse coerces what its type errors allow, and parses again; a value is coerced at most once.
 */
export function parseConfigValue<S extends z.ZodType>(schema: S, value: unknown): z.ZodSafeParseResult<z.output<S>> {
  let input = value;
  const coerced = new Set<string>();
  const wrapped = new Map<string, string>(); // path of a string made a list → the string
  for (let round = 0; ; round++) {
    // jitless: zod's fast path compiles a parser per object schema (new Function) at its first parse, which
    // pays off only over many parses; a config is parsed once at start (~10 ms less for the gateway's).
    const result = schema.safeParse(input, { reportInput: true, jitless: true });
    if (result.success || round >= 16) return result;
    let next = input;
    for (const issue of result.error.issues) {
      if (issue.code !== "invalid_type") continue;
      const given = (issue as { input?: unknown }).input;
      // A list of something else than strings: the string goes back as it was, and the error stays.
      const parent = issue.path.length && issue.path.at(-1) === 0 ? pathKey(issue.path.slice(0, -1)) : undefined;
      const original = parent === undefined ? undefined : wrapped.get(parent);
      if (original !== undefined && typeof given === "string") {
        wrapped.delete(parent!);
        next = withValueAt(next, issue.path.slice(0, -1), original);
        continue;
      }
      const key = pathKey(issue.path);
      if (typeof given !== "string" || coerced.has(key) || valueAt(next, issue.path) !== given) continue;
      const replacement = issue.expected === "array" ? [given] : issue.expected === "number" ? numberIn(given) : undefined;
      if (replacement === undefined) continue;
      coerced.add(key);
      if (issue.expected === "array") wrapped.set(key, given);
      next = withValueAt(next, issue.path, replacement);
    }
    if (next === input) return result;
    input = next;
  }
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

/**
 * A module's options schema: `zod` validation with the config file's conveniences (parseConfigValue),
 * Standard Schema shape, readable issues (with "did you mean" for an unknown option).
 */
export function moduleOptions<S extends z.ZodType>(schema: S): StandardSchemaV1<z.input<S>, z.output<S>> & { readonly zod: S } {
  return {
    zod: schema,
    "~standard": {
      version: 1,
      vendor: "xmppkit",
      validate(value) {
        const result = parseConfigValue(schema, value);
        return result.success ? { value: result.data } : { issues: zodIssues(result.error, schema) };
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
