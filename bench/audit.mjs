// bench/audit: @xmppkit/audit-geoip's audit log on the real stores, against the raw drivers underneath it.
//
//   pnpm --filter @xmppkit/bench run audit [--events 100000] [--rounds 5] [--rows 1000000] [--store sqlite,postgres] [--lookups 1000000]
//
// 1. record() → committed, against its anchor, interleaved: each of `--rounds` rounds writes `--events`
//    events through AuditLog.record() (IP normalised and located, details kept as JSON, batches of 500 rows
//    in one transaction each; timed from the first record() to the last commit) and the same events as raw
//    batched inserts on the driver the store uses (libsql; pg for PostgreSQL): the same table and indexes,
//    rows made in the loop (a time-ordered 36-character id, Date.now(), JSON.stringify of the details; the
//    location looked up before the clock starts), one prepared INSERT per row (SQLite) or one 500-row INSERT
//    (PostgreSQL), 500 rows per BEGIN … COMMIT. Each round is a fresh database; which side goes first
//    alternates. Medians, and the ratio of the medians.
// 2. Query: `--rows` events over 28 days for 5,000 users are bulk-loaded, then "one user, last 7 days, newest
//    100" (the CLI's `--user alice@… --since 7d`) is timed: p50 and p99 over 200 random users, plus the
//    same with a type filter, and the summary (per day / country / type) of 7 days.
// 3. GeoIP: `--lookups` lookups through GeoIp.locate() (special-range check, record normalisation) against
//    the raw maxmind Reader.get() (open() with its default cache) on the same 10,000 random IPv4 addresses,
//    interleaved over `--rounds` rounds after a warm-up of each; medians and their ratio. Also checks that
//    locate() names the reader's country for every locatable address.
// SQLite is a file in a temp dir (WAL, synchronous=FULL as in production, for the anchor too); PostgreSQL
// is the Debian server started by @xmppkit/testing (fsync=off, as in the tests: commits there cost less
// than on a real disk).
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  AUDIT_COLUMNS as COLUMNS,
  AUDIT_MIGRATIONS,
  AUDIT_TABLE,
  defaultDatabasePath,
  eventId,
  isLocatable,
  openAuditLog,
  openGeoIp,
} from "@xmppkit/audit-geoip";
import { openPostgresStore, openSqliteStore } from "@xmppkit/runtime";
import { machine, median } from "./lib/stats.mjs";
import { startPostgres } from "@xmppkit/testing";
import { open } from "maxmind";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    rounds: { type: "string", default: "5" },
    rows: { type: "string", default: "1000000" },
    store: { type: "string", default: "sqlite,postgres" },
    lookups: { type: "string", default: "1000000" },
  },
});
const EVENTS = Number(args.events);
const ROUNDS = Number(args.rounds);
const ROWS = Number(args.rows);
const LOOKUPS = Number(args.lookups);
const DAY = 86_400_000;
const USERS = 5000;
const HOST = "gateway.localhost";
const BATCH = 500;
const TYPES = ["session-available", "session-unavailable", "http-request", "roster-synced", "report-received"];

// The drivers the store uses, from @xmppkit/runtime's own dependencies (same versions).
const runtimeRequire = createRequire(import.meta.resolve("@xmppkit/runtime"));

let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const randomIp = () => `${1 + Math.floor(rand() * 222)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (n) => Math.round(n * 100) / 100;
const ratio = (ours, anchor) => Math.round((ours / anchor) * 100) / 100;
const fmt = (n) => Math.round(n).toLocaleString("en");

const results = {
  machine: machine(),
  events: EVENTS,
  rounds: ROUNDS,
  stores: {},
};
const geoip = await openGeoIp();

// The events of one round: 1,000 caller IPs; the anchor's location columns are looked up before timing.
const ips = Array.from({ length: 1000 }, randomIp);
const locations = ips.map((ip) => geoip.locate(ip));

/** xmppkit: record() every event, from the first call to the last commit. */
async function oursInsert(store) {
  const audit = await openAuditLog({ store, geoip }, { host: HOST });
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
  await audit.close();
  return { perSecond: EVENTS / (totalMs / 1000), enqueueUsPerEvent: (enqueueMs * 1000) / EVENTS };
}

/** The anchor's row for event i: what a raw writer of the same events makes. */
function anchorRow(i, base) {
  const loc = locations[i % ips.length];
  return [
    `${(base + i).toString(16).padStart(12, "0")}${randomUUID().slice(12)}`,
    Date.now(),
    TYPES[i % TYPES.length],
    null,
    `user${i % USERS}@localhost`,
    HOST,
    "r",
    ips[i % ips.length],
    loc?.countryCode ?? null,
    loc?.countryName ?? null,
    loc?.continent ?? null,
    "bench",
    JSON.stringify({ i }),
    null,
  ];
}

/** Anchor on SQLite: libsql directly, one prepared INSERT, 500 rows per BEGIN IMMEDIATE … COMMIT. */
function rawSqliteInsert(file) {
  const Database = runtimeRequire("libsql");
  const db = new Database(file);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec(AUDIT_MIGRATIONS[0].sql.sqlite);
  const stmt = db.prepare(`INSERT INTO ${AUDIT_TABLE} (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`);
  const base = Date.now() * 4096;
  const t0 = performance.now();
  let batch = [];
  const commit = () => {
    db.exec("BEGIN IMMEDIATE");
    for (const row of batch) stmt.run(...row);
    db.exec("COMMIT");
    batch = [];
  };
  for (let i = 0; i < EVENTS; i++) {
    batch.push(anchorRow(i, base));
    if (batch.length === BATCH) commit();
  }
  if (batch.length) commit();
  const totalMs = performance.now() - t0;
  db.close();
  return { perSecond: EVENTS / (totalMs / 1000) };
}

/** Anchor on PostgreSQL: pg directly, one client, one 500-row INSERT per BEGIN … COMMIT. */
async function rawPostgresInsert(url) {
  const { Client } = runtimeRequire("pg");
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(AUDIT_MIGRATIONS[0].sql.postgres);
  const insertSql = (n) =>
    `INSERT INTO ${AUDIT_TABLE} (${COLUMNS.join(", ")}) VALUES ${Array.from({ length: n }, (_, r) => `(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(", ")})`).join(", ")}`;
  const full = insertSql(BATCH);
  const base = Date.now() * 4096;
  const t0 = performance.now();
  let batch = [];
  const commit = async () => {
    await client.query("BEGIN");
    await client.query(batch.length === BATCH ? full : insertSql(batch.length), batch.flat());
    await client.query("COMMIT");
    batch = [];
  };
  for (let i = 0; i < EVENTS; i++) {
    batch.push(anchorRow(i, base));
    if (batch.length === BATCH) await commit();
  }
  if (batch.length) await commit();
  const totalMs = performance.now() - t0;
  await client.end();
  return { perSecond: EVENTS / (totalMs / 1000) };
}

/** 1. Interleaved rounds of ours and the anchor, each on a fresh database. */
async function insertRounds(name, fresh) {
  const ours = [];
  const anchor = [];
  for (let r = 0; r < ROUNDS; r++) {
    const sides = [
      async () => {
        const db = await fresh(`ours${r}`);
        const store = await db.open();
        ours.push(await oursInsert(store));
        await store.close();
        await db.done();
      },
      async () => {
        const db = await fresh(`raw${r}`);
        anchor.push(await db.raw());
        await db.done();
      },
    ];
    if (r % 2) sides.reverse();
    for (const side of sides) await side();
    console.log(
      `${name} round ${r + 1}/${ROUNDS}: record() ${fmt(ours.at(-1).perSecond)}/s, raw ${fmt(anchor.at(-1).perSecond)}/s (${ratio(ours.at(-1).perSecond, anchor.at(-1).perSecond)}×)`,
    );
  }
  const o = median(ours.map((x) => x.perSecond));
  const a = median(anchor.map((x) => x.perSecond));
  return {
    events: EVENTS,
    rounds: ROUNDS,
    perSecond: Math.round(o),
    anchorPerSecond: Math.round(a),
    ratio: ratio(o, a),
    enqueueUsPerEvent: ms(median(ours.map((x) => x.enqueueUsPerEvent))),
    oursRounds: ours.map((x) => Math.round(x.perSecond)),
    anchorRounds: anchor.map((x) => Math.round(x.perSecond)),
  };
}

/** 2. 1M rows over 28 days, then the user + 7-day query and the summary. */
async function queryBench(store) {
  const out = {};
  await openAuditLog({ store }, { host: HOST }).then((a) => a.close()); // the table
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
    await store.insertMany(AUDIT_TABLE, COLUMNS, rows);
  }
  out.load = { rows: ROWS, seconds: ms((performance.now() - t0) / 1000) };
  if (store.dialect === "postgres") await store.run(`ANALYZE ${AUDIT_TABLE}`);
  else await store.run("ANALYZE");
  const audit = await openAuditLog({ store }, { host: HOST });
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
  return out;
}

const stores = args.store.split(",");
if (stores.includes("sqlite")) {
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-bench-audit-"));
  const insert = await insertRounds("sqlite", async (name) => {
    const file = join(dir, `${name}.sqlite`);
    return {
      open: () => openSqliteStore(file),
      raw: async () => rawSqliteInsert(file),
      done: async () => {
        for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      },
    };
  });
  const store = await openSqliteStore(join(dir, "query.sqlite"));
  results.stores.sqlite = { insert, ...(await queryBench(store)) };
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`sqlite: ${JSON.stringify(results.stores.sqlite)}`);
}
if (stores.includes("postgres")) {
  const pg = await startPostgres();
  const insert = await insertRounds("postgres", async (name) => {
    const url = await pg.createDatabase(`bench_audit_${name}`);
    return { open: () => openPostgresStore(url), raw: () => rawPostgresInsert(url), done: async () => {} };
  });
  const store = await openPostgresStore(await pg.createDatabase("bench_audit_query"));
  results.stores.postgres = { insert, ...(await queryBench(store)) };
  await store.close();
  await pg.stop();
  console.log(`postgres: ${JSON.stringify(results.stores.postgres)}`);
}

// 3. GeoIP, interleaved.
{
  const reader = await open(defaultDatabasePath());
  const lookupIps = Array.from({ length: 10_000 }, randomIp);
  const run = (fn) => {
    const t0 = performance.now();
    let hits = 0;
    for (let i = 0; i < LOOKUPS; i++) if (fn(lookupIps[i % lookupIps.length])) hits++;
    const s = (performance.now() - t0) / 1000;
    return { perSecond: LOOKUPS / s, hits };
  };
  const raw = (ip) => reader.get(ip);
  const locate = (ip) => geoip.locate(ip);
  run(raw); // warm-up
  run(locate);
  const rawRuns = [];
  const locateRuns = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2) {
      locateRuns.push(run(locate));
      rawRuns.push(run(raw));
    } else {
      rawRuns.push(run(raw));
      locateRuns.push(run(locate));
    }
  }
  // Same answers: locate() gives the reader's country for every locatable address, nothing for the rest.
  let agree = 0;
  for (const ip of lookupIps) {
    const rec = reader.get(ip);
    const code = rec?.country_code ?? rec?.country?.iso_code ?? rec?.registered_country?.iso_code;
    if ((isLocatable(ip) ? code?.toUpperCase() : undefined) === geoip.locate(ip)?.countryCode) agree++;
  }
  const o = median(locateRuns.map((x) => x.perSecond));
  const a = median(rawRuns.map((x) => x.perSecond));
  results.geoip = {
    lookups: LOOKUPS,
    rounds: ROUNDS,
    perSecond: Math.round(o),
    anchorPerSecond: Math.round(a),
    ratio: ratio(o, a),
    hits: { raw: rawRuns[0].hits, locate: locateRuns[0].hits },
    agree: `${agree}/${lookupIps.length}`,
    oursRounds: locateRuns.map((x) => Math.round(x.perSecond)),
    anchorRounds: rawRuns.map((x) => Math.round(x.perSecond)),
  };
  console.log(`geoip: ${JSON.stringify(results.geoip)}`);
}
results.rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);

const names = { sqlite: ["SQLite", "raw libsql batched inserts"], postgres: ["PostgreSQL", "raw pg batched inserts"] };
console.log(`\naudit-geoip against its anchors (medians of ${ROUNDS} interleaved rounds)\n`);
console.log("| measure | anchor | xmppkit | ratio |");
console.log("|---|---|---|---|");
for (const [name, r] of Object.entries(results.stores)) {
  const [label, anchor] = names[name];
  console.log(
    `| ${label}: \`record()\` → committed ÷ ${anchor} (${EVENTS.toLocaleString("en")} events) | ${fmt(r.insert.anchorPerSecond)}/s | ${fmt(r.insert.perSecond)}/s (${r.insert.enqueueUsPerEvent} µs to enqueue) | ${r.insert.ratio}× |`,
  );
}
const g = results.geoip;
console.log(`| GeoIP \`locate()\` ÷ raw maxmind \`Reader.get\` | ${fmt(g.anchorPerSecond)}/s | ${fmt(g.perSecond)}/s | ${g.ratio}× |`);

console.log("\n| store | load (bulk, 4 indexes) | user + 7 days, newest 100 (p50 / p99) | + type filter (p50 / p99) | summary of 7 days |");
console.log("|---|---|---|---|---|");
for (const [name, r] of Object.entries(results.stores)) {
  console.log(
    `| ${names[name][0]} | ${r.load.rows.toLocaleString("en")} rows in ${r.load.seconds} s | ${r.userWeek.p50Ms} / ${r.userWeek.p99Ms} ms | ${r.userWeekType.p50Ms} / ${r.userWeekType.p99Ms} ms | ${r.summaryWeek.ms} ms (${r.summaryWeek.events.toLocaleString("en")} events) |`,
  );
}
console.log(`\nGeoIP answers agree with the reader: ${g.agree}; RSS at the end: ${results.rssMiB} MiB`);
console.log(JSON.stringify(results));
