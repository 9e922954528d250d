// The gateway's YAML config: `${ENV}` interpolation for secrets, strict validation, and errors that name
// the key path and the line (and the key an unknown one is a typo of). Every rule that needs no network is
// checked here, so that --check-config refuses what start would.
import { readFileSync } from "node:fs";
import { ConfigError, joinPath } from "@xmppkit/core";
import { checkListen, closestName, describeIssues, duration, isIpOrCidr, parseConfigValue, z } from "@xmppkit/runtime";
import { isMap, isSeq, LineCounter, parseDocument, type Document } from "yaml";

export const CORE_SECTIONS = ["component", "server_domain", "http", "storage", "ha", "log", "modules_enabled"] as const;

const seconds = duration;

/** A short module name or an npm package name. */
const MODULE_ENTRY = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

export const coreConfigSchema = z.strictObject({
  component: z.strictObject({
    /** Where the server's component port is: `xmpp://host:port` (Prosody default 5347). */
    service: z.string().regex(/^xmpp:\/\/[^/]+$/, 'expected "xmpp://host:port" (XEP-0114 has no TLS; keep it on loopback or a private link)'),
    /** The component's JID, as in the server's `Component "…"` line. */
    domain: z
      .string()
      .min(1)
      .regex(/^[^@/\s]+$/, "a domain, without @ or /"),
    /** Shared secret (`component_secret` in Prosody). Use ${ENV}. */
    secret: z.string().min(1, "is empty"),
    keepalive_interval: seconds().prefault(60),
    keepalive_timeout: seconds().prefault(15),
    reconnect_max_delay: seconds().prefault(60),
    /**
     * Prosody's `component_stanza_size_limit` (bytes, default 512 KiB): set both the same. A bigger stanza
     * from the server ends the stream; the gateway sends nothing within 32 KiB of it.
     */
    stanza_size_limit: z
      .number()
      .int()
      .min(65_536)
      .default(512 * 1024),
  }),
  /** The VirtualHost whose users the privileges cover. */
  server_domain: z
    .string()
    .min(1)
    .regex(/^[^@/\s]+$/, "a domain, without @ or /"),
  http: z
    .strictObject({
      listen: z.string().default("127.0.0.1:5281"),
      // An empty value (e.g. `${GATEWAY_HTTP_TOKEN:-}` with the variable unset) means no token.
      token: z.preprocess((v) => (v === "" ? undefined : v), z.string().min(16, "use at least 16 characters").optional()),
      trusted_proxies: z
        .array(z.string().refine(isIpOrCidr, "expected an IP address, a CIDR like 10.0.0.0/8, or loopback, linklocal, uniquelocal"))
        .default([]),
      body_limit: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024),
    })
    .default({ listen: "127.0.0.1:5281", trusted_proxies: [], body_limit: 1024 * 1024 }),
  storage: z
    .strictObject({
      sqlite: z.string().optional(),
      postgres: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'expected "postgres://user:password@host/database"')
        .optional(),
      data_dir: z.string().default("./data"),
    })
    .default({ data_dir: "./data" }),
  /** Active/standby: the gateway holding a lease in storage.postgres opens the link; the others wait. */
  ha: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** How often a standby asks for the lease (seconds). */
      poll_interval: seconds().prefault(1),
    })
    .default({ enabled: false, poll_interval: 1000 }),
  log: z
    .strictObject({
      level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
      format: z.enum(["auto", "json", "pretty"]).default("auto"),
    })
    .default({ level: "info", format: "auto" }),
  /** xmppkit's modules by short name (`ping-muc`), anyone's by package name (`@acme/xmpp-desk`). */
  modules_enabled: z.array(z.string().regex(MODULE_ENTRY, "a module name like http-roster-admin, or a package name like @acme/xmpp-desk")).default([]),
});

export type CoreConfig = z.output<typeof coreConfigSchema>;

export interface GatewayConfig extends CoreConfig {
  /** Raw option sections of enabled modules, by module name (validated by each module's schema). */
  moduleSections: Record<string, unknown>;
  /** Where it came from, for messages. */
  source: string;
}

/** Locates key paths in the YAML source for error messages. */
export class SourceMap {
  constructor(
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter | undefined,
    readonly source: string,
  ) {}

  /** 1-based line of the key at `path`, or of its nearest existing parent. */
  line(path: readonly (string | number)[]): number | undefined {
    if (!this.doc || !this.lines) return undefined;
    let node: unknown = this.doc.contents;
    let offset: number | undefined = (node as { range?: number[] })?.range?.[0];
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === seg);
        if (!pair) break;
        offset = (pair.key as { range?: number[] })?.range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (!item) break;
        offset = (item as { range?: number[] }).range?.[0] ?? offset;
        node = item;
      } else break;
    }
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  /** "path (gateway.yaml line 4)" */
  where(path: readonly (string | number)[], dotted: string): string {
    const line = this.line(path);
    return line ? `${dotted} (${this.source} line ${line})` : `${dotted} (${this.source})`;
  }
}

function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** A stand-in for an unset variable at `path` (a command that does not use it), or undefined: an error. */
export type UnsetEnv = (name: string, path: (string | number)[]) => string | undefined;

/** Replace `${NAME}` and `${NAME:-default}` in every string; collect the names that are not set. */
export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: (string | number)[] = [],
  missing: { path: (string | number)[]; name: string }[] = [],
  unset?: UnsetEnv,
): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (fallback !== undefined) return fallback;
      const stand = unset?.(name, path);
      if (stand !== undefined) return stand;
      missing.push({ path, name });
      return "";
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, [...path, i], missing, unset));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, [...path, k], missing, unset)]));
  }
  return value;
}

/** A ConfigError whose issues carry their line in the source: one line for one issue, else one issue per line. */
export function locatedError(issues: { path: string; message: string }[], map: SourceMap): ConfigError {
  const located = issues.map((i) => ({ ...i, line: map.line(splitPath(i.path)) }));
  const lines = located.map((i) => `${map.where(splitPath(i.path), i.path)}: ${i.message}`);
  return new ConfigError(
    lines.length === 1
      ? `invalid configuration in ${map.source}: ${lines[0]}`
      : `invalid configuration in ${map.source}:\n${lines.map((l) => `  ${l}`).join("\n")}`,
    located,
  );
}

/**
 * `err` with the line of each issue, when it has paths but no lines yet (a mistake found after the file was
 * read: the modules' composition, say); else `err` as it is.
 */
export function withLines(err: ConfigError, map: SourceMap | undefined): ConfigError {
  if (!map || !err.issues.length || err.issues.some((i) => "line" in i)) return err;
  return locatedError(err.issues, map);
}

function fail(map: SourceMap, issues: { path: string; message: string }[]): never {
  throw locatedError(issues, map);
}

/** Parse and validate config text. Module sections are returned raw: each module validates its own. */
export function parseConfig(
  text: string,
  options: { source?: string; env?: NodeJS.ProcessEnv; unsetEnv?: UnsetEnv } = {},
): { config: GatewayConfig; sourceMap: SourceMap } {
  const source = options.source ?? "config";
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const map = new SourceMap(doc, lines, source);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? (e.pos?.[0] !== undefined ? lines.linePos(e.pos[0]).line : undefined);
    throw new ConfigError(`${source}${line ? ` line ${line}` : ""}: not valid YAML: ${e.message.split("\n")[0]}`, [
      { path: "", message: e.message, ...(line ? { line } : {}) },
    ]);
  }
  const raw = doc.toJS() as unknown;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) fail(map, [{ path: "", message: "the config must be a YAML mapping (key: value)" }]);

  const missing: { path: (string | number)[]; name: string }[] = [];
  const data = interpolateEnv(raw, options.env ?? process.env, [], missing, options.unsetEnv) as Record<string, unknown>;
  const issues: { path: string; message: string }[] = missing.map((m) => ({
    path: joinPath("", m.path),
    message: `environment variable ${m.name} is not set`,
  }));

  const coreRaw: Record<string, unknown> = {};
  const moduleSections: Record<string, unknown> = {};
  // One name is a list of one, as everywhere in the config (parseConfigValue).
  const listed: unknown[] = Array.isArray(data.modules_enabled) ? data.modules_enabled : typeof data.modules_enabled === "string" ? [data.modules_enabled] : [];
  const enabled = listed.filter((x): x is string => typeof x === "string");
  for (const [key, value] of Object.entries(data)) {
    if ((CORE_SECTIONS as readonly string[]).includes(key)) coreRaw[key] = value;
    else if (enabled.includes(key)) moduleSections[key] = value;
    else if (key === "rooms")
      issues.push({
        path: key,
        message: "the gateway's rooms are track-muc-joins' option now: move the list under `track-muc-joins:` as `rooms:` (and enable track-muc-joins)",
      });
    else {
      const near = closestName(key, [...CORE_SECTIONS, ...enabled]);
      issues.push({
        path: key,
        message: `unknown key (not a gateway section, and no module "${key}" in modules_enabled)${near ? `: did you mean "${near}"?` : ""}`,
      });
    }
  }
  const parsed = parseConfigValue(coreConfigSchema, coreRaw);
  if (!parsed.success) issues.push(...describeIssues(parsed.error, "", coreConfigSchema));
  if (parsed.success) {
    // The HTTP server's own rule (a token beyond loopback), run here too: --check-config then refuses it.
    try {
      checkListen(parsed.data.http.listen, parsed.data.http.token);
    } catch (err) {
      if (!ConfigError.isInstance(err)) throw err;
      issues.push(...err.issues);
    }
  }
  if (parsed.success && parsed.data.storage.sqlite && parsed.data.storage.postgres) {
    issues.push({ path: "storage.postgres", message: "give either storage.sqlite or storage.postgres, not both" });
  }
  if (parsed.success && parsed.data.ha.enabled && !parsed.data.storage.postgres) {
    issues.push({ path: "ha.enabled", message: "needs storage.postgres: the lease and the shared state live in PostgreSQL" });
  }
  const dupes = enabled.filter((m, i) => enabled.indexOf(m) !== i);
  for (const d of new Set(dupes)) issues.push({ path: "modules_enabled", message: `"${d}" is listed twice` });
  if (issues.length) fail(map, issues);
  return { config: { ...parsed.data!, moduleSections, source }, sourceMap: map };
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, unsetEnv?: UnsetEnv) {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseConfig(text, { source: path, env, ...(unsetEnv ? { unsetEnv } : {}) });
}
