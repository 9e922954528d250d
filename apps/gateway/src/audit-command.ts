// `xmppkit-gateway audit --config gateway.yaml [filters]`: read the audit log from the store the config
// names, with or without the gateway running (SQLite in WAL mode reads beside a writer; PostgreSQL is a
// server). The table is prosodyctl mod_audit's; `--json` prints one event per line.
import { parseArgs } from "node:util";
import { AuditQueryError, eventJson, formatAuditTable, openAuditLog, parseAuditQuery } from "@xmppkit/audit-geoip";
import { ConfigError, openStore } from "@xmppkit/core";
import { loadConfig } from "./config.js";

export const AUDIT_HELP = `Usage: xmppkit-gateway audit --config gateway.yaml [filters] [--json]

Shows the audit log (newest first) from the gateway's store; works while the gateway is stopped.

Filters:
  --user JID        an account (bare JID: every session) or one session (full JID)
  --type T[,T…]     event types, e.g. session-available,http-request
  --since WHEN      a period back from now (7d, 12h) or a date/time (2026-11-01, 2026-11-01T10:00Z)
  --until WHEN      the same, exclusive
  --country CC      two-letter country code of the caller's IP
  --module NAME     the module that recorded it (core, gateway, http-roster-admin, …)
  --ip ADDRESS      the caller's IP (or the stored network, e.g. 203.0.113.0/24)
  --limit N         at most N events (default 100, at most 1000)
  --json            one JSON object per line instead of the table
`;

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

/** Returns the exit code (0 ok, 1 store failure, 2 bad usage or filter, 3 config). */
export async function runAuditCommand(argv: string[], out: Out, env: NodeJS.ProcessEnv = process.env, width?: number): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        user: { type: "string" },
        type: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        country: { type: "string" },
        module: { type: "string" },
        ip: { type: "string" },
        limit: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    out.stderr(`xmppkit-gateway audit: ${(err as Error).message} (see audit --help)\n`);
    return 2;
  }
  if (values.help) {
    out.stdout(AUDIT_HELP);
    return 0;
  }
  if (typeof values.config !== "string") {
    out.stderr("xmppkit-gateway audit: missing --config <file> (see audit --help)\n");
    return 2;
  }
  let config: ReturnType<typeof loadConfig>["config"];
  try {
    // Only storage matters here: the component secret and the HTTP token need not be in this shell.
    ({ config } = loadConfig(values.config, env, (_name, path) => (path[0] === "storage" ? undefined : "unset-for-the-audit-command")));
  } catch (err) {
    if (ConfigError.isInstance(err)) {
      out.stderr(`xmppkit-gateway: ${err.message}\n`);
      return 3;
    }
    throw err;
  }
  const { config: _c, json, help: _h, ...filters } = values;
  let query: ReturnType<typeof parseAuditQuery>;
  try {
    query = parseAuditQuery(filters);
  } catch (err) {
    if (err instanceof AuditQueryError) {
      out.stderr(`xmppkit-gateway audit: --${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (!config.modules_enabled.includes("audit-geoip")) {
    out.stderr(`xmppkit-gateway audit: note: audit-geoip is not in modules_enabled of ${values.config}, so the gateway records nothing\n`);
  }

  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore({
      ...(config.storage.sqlite ? { sqlite: config.storage.sqlite } : {}),
      ...(config.storage.postgres ? { postgres: config.storage.postgres } : {}),
      dataDir: config.storage.data_dir,
    });
  } catch (err) {
    out.stderr(`xmppkit-gateway audit: cannot open the store: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const audit = await openAuditLog({ store }, { host: config.component.domain });
    const page = await audit.query(query);
    if (json) for (const e of page.events) out.stdout(`${JSON.stringify(eventJson(e))}\n`);
    else {
      const footer = page.next ? `(older events: --limit ${Math.min(1000, (query.limit ?? 100) * 2)}, or --until ${page.events.at(-1)!.time.toISOString()})` : undefined;
      out.stdout(formatAuditTable(page.events, { ...(width ? { width } : {}), ...(footer ? { footer } : {}) }));
    }
    return 0;
  } catch (err) {
    out.stderr(`xmppkit-gateway audit: query failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
