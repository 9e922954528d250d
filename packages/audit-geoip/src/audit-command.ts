// `xmppkit-gateway audit --config gateway.yaml [filters]`: read the audit log from the store the config
// names, with or without the gateway running (SQLite in WAL mode reads beside a writer; PostgreSQL is a
// server). The table is prosodyctl mod_audit's; `--json` prints one event per line.
//
// A reading command: the store is opened read-only (ctx.openStore({ readOnly: true })), so a wrong --config or data_dir does
// not create an empty database to read nothing from; it says there is no audit log there instead.
import { parseArgs } from "node:util";
import type { CommandContext, ModuleCommand, Store } from "@xmppkit/core";
import { StoreNotFoundError, StoreNotMigratedError } from "@xmppkit/runtime";
import { parseAuditQuery } from "./audit-filter.js";
import { AuditQueryError, openAuditLog, type AuditQuery } from "./audit-log.js";
import { eventJson, formatAuditTable } from "./audit-table.js";

export const AUDIT_HELP = `Usage: xmppkit-gateway audit --config gateway.yaml [filters] [--json]

Shows the audit log (newest first) from the gateway's store; works while the gateway is stopped. Reads
only: with SQLite, the file is opened read-only and never created.

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

Exit codes: 0 shown, 1 the store failed, 2 bad usage, 3 no audit log where --config points.
`;

const FLAGS = {
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
} as const;

/** The arguments as a query, or the exit code and message of bad usage. */
function readArgs(args: string[]): { query: AuditQuery; json: boolean; help: boolean } | { usage: string } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    return { usage: `${(err as Error).message} (see audit --help)` };
  }
  const { json, help, ...filters } = values;
  if (help) return { query: {}, json: false, help: true };
  try {
    return { query: parseAuditQuery(filters), json: json === true, help: false };
  } catch (err) {
    if (err instanceof AuditQueryError) return { usage: `--${err.message}` };
    throw err;
  }
}

async function printEvents(store: Store, ctx: CommandContext<unknown>, query: AuditQuery, json: boolean): Promise<void> {
  const audit = await openAuditLog({ store }, { host: ctx.component });
  const page = await audit.query(query);
  if (json) {
    for (const e of page.events) ctx.stdout(`${JSON.stringify(eventJson(e))}\n`);
    return;
  }
  const footer = page.next
    ? `(older events: --limit ${Math.min(1000, (query.limit ?? 100) * 2)}, or --until ${page.events.at(-1)!.time.toISOString()})`
    : undefined;
  ctx.stdout(formatAuditTable(page.events, { ...(ctx.columns ? { width: ctx.columns } : {}), ...(footer ? { footer } : {}) }));
}

/**
 * Nothing to read where the config points (no database file, or one the audit log was never written to):
 * the line to print, or undefined for another error.
 */
function nothingToRead(err: unknown): string | undefined {
  if (StoreNotFoundError.isInstance(err)) return `no audit log at ${err.file}${err.dataDir ? ` (data_dir: ${err.dataDir})` : ""}: is --config the gateway's?`;
  if (StoreNotMigratedError.isInstance(err))
    return err.owner === "core"
      ? `no audit log in ${err.file}: the gateway has never written to it; is --config the gateway's?`
      : `no audit log in ${err.file}: audit-geoip has never written to it (is it in the gateway's modules_enabled?)`;
  return undefined;
}

/** Exit codes: 0 ok, 1 store failure, 2 bad usage or filter, 3 no audit log where the config points. */
export const auditCommand: ModuleCommand = {
  summary: "show the audit log (audit --help for every filter)",
  help: AUDIT_HELP,
  async run(args, ctx) {
    const read = readArgs(args);
    if ("usage" in read) {
      ctx.stderr(`xmppkit-gateway audit: ${read.usage}\n`);
      return 2;
    }
    if (read.help) {
      ctx.stdout(AUDIT_HELP);
      return 0;
    }
    if (!ctx.enabled) ctx.stderr(`xmppkit-gateway audit: note: audit-geoip is not in modules_enabled of ${ctx.configPath}, so the gateway records nothing\n`);
    let store: Store;
    try {
      store = await ctx.openStore({ readOnly: true });
    } catch (err) {
      const nothing = nothingToRead(err);
      ctx.stderr(`xmppkit-gateway audit: ${nothing ?? `cannot open the store: ${(err as Error).message}`}\n`);
      return nothing ? 3 : 1;
    }
    try {
      await printEvents(store, ctx, read.query, read.json);
      return 0;
    } catch (err) {
      const nothing = nothingToRead(err);
      ctx.stderr(`xmppkit-gateway audit: ${nothing ?? `query failed: ${(err as Error).message}`}\n`);
      return nothing ? 3 : 1;
    } finally {
      await store.close();
    }
  },
};
