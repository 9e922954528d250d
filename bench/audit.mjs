// bench/audit: @xmppkit/audit-geoip's audit log on the real stores.
//
//   pnpm --filter @xmppkit/bench audit [--events 100000] [--rows 1000000] [--store sqlite,postgres] [--lookups 1000000]
//
// 1. Batched insert rate: `--events` events through AuditLog.record() (IP normalised and located, batches of
//    500 rows in one transaction each), from the first record() to the last commit.
// 2. Query: `--rows` events over 28 days for 5,000 users are bulk-loaded, then "one user, last 7 days, newest
//    100" (the CLI's `--user alice@… --since 7d`) is timed: p50 and p99 over 200 random users, plus the
//    same with a type filter, and the summary (per day / country / type) of 7 days.
// 3. GeoIP: `--lookups` lookups through GeoIp.locate() (special-range check, record normalisation) against
//    the raw maxmind Reader.get() on the same addresses.
// SQLite is a file in a temp dir (WAL, synchronous=FULL as in production); PostgreSQL is the Debian server
// started by @xmppkit/testing (fsync=off, as in the tests: commits there cost less than on a real disk).
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AUDIT_TABLE, defaultDatabasePath, eventId, openAuditLog, openGeoIp } from "@xmppkit/audit-geoip";
import { openPostgresStore, openSqliteStore } from "@xmppkit/runtime";
import { startPostgres } from "@xmppkit/testing";
import { open } from "maxmind";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    rows: { type: "string", default: "1000000" },
    store: { type: "string", default: "sqlite,postgres" },
    lookups: { type: "string", default: "1000000" },
  },
});
const EVENTS = Number(args.events);
const ROWS = Number(args.rows);
const LOOKUPS = Number(args.lookups);
const DAY = 86_400_000;
const USERS = 5000;
const TYPES = ["session-available", "session-unavailable", "http-request", "roster-synced", "report-received"];

let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const randomIp = () => `${1 + Math.floor(rand() * 222)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (n) => Math.round(n * 100) / 100;

const results = { machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, stores: {} };
const geoip = await openGeoIp();

async function benchStore(name, open) {
  const store = await open();
  const out = {};
  // 1. record() → committed.
  {
    const audit = await openAuditLog({ store, geoip }, { host: "gateway.localhost" });
    const ips = Array.from({ length: 1000 }, randomIp);
    const t0 = performance.now();
    const pending = [];
    for (let i = 0; i < EVENTS; i++) {
      pending.push(
        audit.record({
          type: TYPES[i % TYPES.length],
          module: "bench",
          user: `user${i % USERS}@localhost`,
          resource: "r",
          ip: ips[i % ips.length],
          details: { i },
        }),
      );
    }
    const enqueueMs = performance.now() - t0;
    await Promise.all(pending);
    const totalMs = performance.now() - t0;
    out.insert = {
      events: EVENTS,
      perSecond: Math.round(EVENTS / (totalMs / 1000)),
      enqueueUsPerEvent: ms((enqueueMs * 1000) / EVENTS),
      totalMs: Math.round(totalMs),
    };
    await audit.close();
    await store.run(`DELETE FROM ${AUDIT_TABLE}`);
  }
  // 2. 1M rows over 28 days, then the user + 7-day query.
  {
    const now = Date.now();
    const t0 = performance.now();
    const CHUNK = 10_000;
    for (let done = 0; done < ROWS; done += CHUNK) {
      const rows = [];
      for (let i = done; i < Math.min(ROWS, done + CHUNK); i++) {
        const cc = i % 7 === 0 ? ["GB", "DE", "US", "FR", "NL"][i % 5] : null;
        rows.push([
          eventId(),
          now - Math.floor(rand() * 28 * DAY),
          TYPES[i % TYPES.length],
          null,
          `user${Math.floor(rand() * USERS)}@localhost`,
          "localhost",
          "r",
          cc ? randomIp() : null,
          cc,
          cc,
          null,
          "bench",
          null,
          null,
        ]);
      }
      await store.insertMany(
        AUDIT_TABLE,
        ["id", "time_ms", "type", "actor", "user_jid", "host", "resource", "ip", "country_code", "country_name", "continent", "module", "details", "note"],
        rows,
      );
    }
    out.load = { rows: ROWS, seconds: ms((performance.now() - t0) / 1000) };
    if (store.dialect === "postgres") await store.run(`ANALYZE ${AUDIT_TABLE}`);
    else await store.run("ANALYZE");
    const audit = await openAuditLog({ store }, { host: "gateway.localhost" });
    const since = new Date(now - 7 * DAY);
    const time = async (fn) => {
      const t = [];
      let n = 0;
      for (let i = 0; i < 200; i++) {
        const user = `user${Math.floor(rand() * USERS)}@localhost`;
        const s = performance.now();
        n += (await fn(user)).events?.length ?? 0;
        t.push(performance.now() - s);
      }
      return { p50Ms: ms(pct(t, 50)), p99Ms: ms(pct(t, 99)), avgRows: Math.round(n / 200) };
    };
    out.userWeek = await time((user) => audit.query({ user, since }));
    out.userWeekType = await time((user) => audit.query({ user, since, type: ["session-available"] }));
    const s = performance.now();
    const summary = await audit.summary({ since });
    out.summaryWeek = { ms: Math.round(performance.now() - s), events: summary.total };
    await audit.close();
  }
  await store.close();
  results.stores[name] = out;
  console.log(`${name}: ${JSON.stringify(out)}`);
}

const stores = args.store.split(",");
let dir;
if (stores.includes("sqlite")) {
  dir = mkdtempSync(join(tmpdir(), "xmppkit-bench-audit-"));
  await benchStore("sqlite", () => openSqliteStore(join(dir, "audit.sqlite")));
  rmSync(dir, { recursive: true, force: true });
}
if (stores.includes("postgres")) {
  const pg = await startPostgres();
  const url = await pg.createDatabase("bench_audit");
  await benchStore("postgres", () => openPostgresStore(url));
  await pg.stop();
}

// 3. GeoIP.
{
  const reader = await open(defaultDatabasePath());
  const ips = Array.from({ length: 10_000 }, randomIp);
  const run = (fn) => {
    const t0 = performance.now();
    let hits = 0;
    for (let i = 0; i < LOOKUPS; i++) if (fn(ips[i % ips.length])) hits++;
    const s = (performance.now() - t0) / 1000;
    return { perSecond: Math.round(LOOKUPS / s), hits };
  };
  run((ip) => reader.get(ip)); // warm up
  results.geoip = { lookups: LOOKUPS, raw: run((ip) => reader.get(ip)), locate: run((ip) => geoip.locate(ip)) };
  console.log(`geoip: ${JSON.stringify(results.geoip)}`);
}
results.rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);

console.log("\n| store | record() → committed | user + 7 days, newest 100 (p50 / p99) | + type filter (p50 / p99) | summary of 7 days |");
console.log("|---|---|---|---|---|");
for (const [name, r] of Object.entries(results.stores)) {
  console.log(
    `| ${name} | ${r.insert.perSecond.toLocaleString("en")} events/s | ${r.userWeek.p50Ms} / ${r.userWeek.p99Ms} ms | ${r.userWeekType.p50Ms} / ${r.userWeekType.p99Ms} ms | ${r.summaryWeek.ms} ms (${r.summaryWeek.events.toLocaleString("en")} events) |`,
  );
}
console.log(`\nGeoIP: raw reader ${results.geoip.raw.perSecond.toLocaleString("en")}/s, locate() ${results.geoip.locate.perSecond.toLocaleString("en")}/s`);
console.log(JSON.stringify(results));
