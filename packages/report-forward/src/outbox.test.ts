// The outbox: what report-forward accepted is delivered, at least once, through link losses, room bounces
// and restarts (a real SQLite store for the restart).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NS_PING, setupKit, xml, type Element, type Kit, type Store, type XmppEntity } from "@xmppkit/core";
import { openPostgresStore, openSqliteStore } from "@xmppkit/runtime";
import { mockComponent, startPostgres, waitFor, type MockEntity, type Postgres } from "@xmppkit/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NS_JID, NS_REPORTING, REASON_SPAM } from "./report.js";
import { setupReportForward, type ReportForward, type ReportForwardEvents, type ReportForwardOptions } from "./report-forward.js";
import { createOutbox, memoryOutboxStore, type OutboxEntry } from "./outbox.js";

const GW = "gateway.localhost";
const STAFF = "mod@localhost";
const ROOM = "mods@conference.localhost";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const report = (id: string) =>
  xml(
    "message",
    { from: "localhost", to: GW, id },
    xml("report", { xmlns: NS_REPORTING, reason: REASON_SPAM }, xml("text", {}, `report ${id}`), xml("jid", NS_JID, `spammer-${id}@bad.example`)),
  );

interface Desk {
  mock: MockEntity<XmppEntity>;
  kit: Kit;
  desk: ReportForward;
  forwarded: ReportForwardEvents["forwarded"][];
}
const desks: Desk[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const d of desks.splice(0)) await d.desk.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function desk(options: ReportForwardOptions = {}, store?: Store, room?: { bounce: () => boolean }): Promise<Desk> {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  mock.replyToIq((s) => s.getChild("ping", NS_PING) !== undefined, true);
  mock.replyToIq((s) => s.attrs.to === "localhost" && !!s.getChild("query"), xml("query", "http://jabber.org/protocol/disco#info"));
  mock.replyToIq(
    (s) => s.attrs.to === "conference.localhost" && !!s.getChild("query"),
    xml("query", "http://jabber.org/protocol/disco#info", xml("identity", { category: "conference", type: "text" })),
  );
  mock.entity.on("send", (m: Element) => {
    if (m.name !== "message" || m.attrs.type !== "groupchat") return;
    const bounced = room?.bounce() ?? false;
    const answer = bounced
      ? xml(
          "message",
          { type: "error", id: m.attrs.id, from: m.attrs.to, to: GW },
          xml("error", { type: "modify" }, xml("not-acceptable", "urn:ietf:params:xml:ns:xmpp-stanzas")),
        )
      : xml("message", { type: "groupchat", id: m.attrs.id, from: `${m.attrs.to}/desk`, to: GW }, xml("body", {}, "…"));
    setImmediate(() => void mock.receive(answer));
  });
  const joined = { joined: true };
  const joins = {
    keep: () => () => undefined,
    isJoined: () => joined.joined,
    on: () => undefined,
    off: () => undefined,
  };
  const d = setupReportForward({ ...kit, store, joins }, { staff: [STAFF], outbox: { backoff: { initial: 30, max: 60, jitter: 0 } }, ...options });
  const forwarded: Desk["forwarded"] = [];
  d.on("forwarded", (f) => forwarded.push(f));
  await d.ready;
  const one = { mock, kit, desk: d, forwarded };
  desks.push(one);
  return one;
}

async function until(what: () => boolean) {
  await waitFor(what, String(what), 30_000, 10);
}

describe("the report outbox", () => {
  it("a report accepted while the link is down is delivered when it comes back", async () => {
    const d = await desk();
    await d.mock.receive(report("r1"));
    await until(() => d.desk.pending === 1);
    expect(d.forwarded).toHaveLength(0);
    d.mock.entity.emit("online", d.mock.entity.jid);
    await until(() => d.forwarded.length === 1);
    expect(d.forwarded[0]!.destinations).toEqual([{ jid: STAFF, audience: "staff", room: false, ok: true }]);
    expect(d.desk.pending).toBe(0);
  });

  it("a staff room that bounces the groupchat is a failed delivery, retried until the room takes it", async () => {
    let bounces = 2;
    const d = await desk({ staff: [ROOM, STAFF] }, undefined, { bounce: () => bounces-- > 0 });
    d.mock.entity.emit("online", d.mock.entity.jid);
    await d.mock.receive(report("r2"));
    await until(() => d.forwarded.length === 2);
    // the user got it in the first round; the room only in the third
    expect(d.forwarded[0]!.destinations.map((x) => [x.jid, x.ok])).toEqual([[STAFF, true]]);
    expect(d.forwarded[0]!.pending).toEqual([ROOM]);
    expect(d.forwarded[1]!.destinations.map((x) => [x.jid, x.ok])).toEqual([[ROOM, true]]);
    const roomCopies = d.mock.sent.filter((m) => m.attrs.to === ROOM && m.attrs.type === "groupchat");
    expect(roomCopies).toHaveLength(3);
    expect(new Set(roomCopies.map((m) => m.attrs.id)).size).toBe(1); // one id for every attempt: receivers can dedupe
    expect(roomCopies[0]!.attrs.id).toMatch(new RegExp(`^${d.forwarded[0]!.id}\\.`));
  });

  it("a bounce no retry changes (item-not-found) is final; service-unavailable (offline, or unknown) is tried again", async () => {
    const d = await desk({ staff: ["nobody@localhost", "offline@localhost"] });
    let offline = 1;
    d.mock.entity.on("send", (m: Element) => {
      if (m.name !== "message" || m.attrs.type === "error") return;
      const bounce = (condition: string) =>
        void d.mock.receive(
          xml(
            "message",
            { type: "error", id: m.attrs.id, from: m.attrs.to, to: GW },
            xml("error", { type: "cancel" }, xml(condition, "urn:ietf:params:xml:ns:xmpp-stanzas")),
          ),
        );
      if (m.attrs.to === "nobody@localhost") bounce("item-not-found");
      if (m.attrs.to === "offline@localhost" && offline-- > 0) bounce("service-unavailable");
    });
    d.mock.entity.emit("online", d.mock.entity.jid);
    await d.mock.receive(report("r3"));
    await until(() => d.forwarded.length === 2);
    expect(d.forwarded[0]!.destinations).toEqual([{ jid: "nobody@localhost", audience: "staff", room: false, ok: false, error: "item-not-found" }]);
    expect(d.forwarded[0]!.pending).toEqual(["offline@localhost"]);
    expect(d.forwarded[1]!.destinations).toEqual([{ jid: "offline@localhost", audience: "staff", room: false, ok: true }]);
    expect(d.desk.pending).toBe(0);
  });

  it("what was accepted survives a restart: a new desk on the same SQLite store delivers it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppkit-outbox-"));
    dirs.push(dir);
    const file = join(dir, "store.sqlite");
    const first = await desk({}, await openSqliteStore(file));
    await first.mock.receive(report("r4"));
    await until(() => first.desk.pending === 1);
    await first.desk.stop(); // the process goes away with the link still down
    const store = await openSqliteStore(file);
    const second = await desk({}, store);
    expect(second.desk.pending).toBe(1);
    second.mock.entity.emit("online", second.mock.entity.jid);
    await until(() => second.forwarded.length === 1);
    expect(second.forwarded[0]!.reported).toBe("spammer-r4@bad.example");
    expect((await store.query("SELECT id FROM xmppkit_report_outbox")).length).toBe(0);
    await store.close();
  });

  it("a standby sharing the store delivers what the holder accepted after the standby started, and not what it delivered", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppkit-outbox-"));
    dirs.push(dir);
    const file = join(dir, "store.sqlite");
    const holder = await desk({}, await openSqliteStore(file));
    await holder.mock.receive(report("early")); // accepted while the holder's link is down
    await until(() => holder.desk.pending === 1);
    const store = await openSqliteStore(file);
    const standby = await desk({}, store); // starts now: sees "early"
    expect(standby.desk.pending).toBe(1);
    holder.mock.entity.emit("online", holder.mock.entity.jid); // the holder delivers "early"…
    await until(() => holder.forwarded.length === 1);
    holder.mock.dropLink();
    await holder.mock.receive(report("late")); // …and accepts "late", then dies
    await until(() => holder.desk.pending === 1);
    standby.mock.entity.emit("online", standby.mock.entity.jid); // the standby takes over
    await until(() => standby.forwarded.length === 1);
    expect(standby.forwarded.map((f) => f.reported)).toEqual(["spammer-late@bad.example"]);
    await sleep(50); // a short quiet period: a resend of "early" would show
    expect(standby.forwarded).toHaveLength(1); // "early" was not sent again
    expect(standby.desk.pending).toBe(0);
    await store.close();
  });

  it("gives a report up after max age, and says which destinations never got it", async () => {
    let t = 1_000_000;
    const store = memoryOutboxStore();
    const finished: [string, boolean][] = [];
    const lifecycle = { online: true, on: () => () => undefined, off: () => undefined };
    const box = createOutbox(
      { store, lifecycle: lifecycle as never, deliver: async () => ({ settled: [], retry: true }), onFinished: (e, gaveUp) => finished.push([e.id, gaveUp]) },
      { maxAgeMs: 1000, backoff: { initial: 1, max: 1, jitter: 0 }, now: () => t },
    );
    const entry: OutboxEntry = { id: "old", acceptedAt: t, report: {} as never, source: { via: "api", source: "t" }, done: [], attempts: 0, nextAt: t };
    await box.add(entry);
    await until(() => entry.attempts >= 1);
    t += 2000;
    await box.start();
    await until(() => finished.length === 1);
    expect(finished).toEqual([["old", true]]);
    expect(box.size).toBe(0);
    await box.stop();
  });
});

describe("the report outbox on PostgreSQL, shared by an active/standby pair", () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(() => pg?.stop());

  it("a report the standby accepts is delivered by the holder at once (LISTEN/NOTIFY), not at the next takeover", async () => {
    const url = await pg.createDatabase();
    const holder = await desk({}, await openPostgresStore(url));
    holder.mock.entity.emit("online", holder.mock.entity.jid);
    const standby = await desk({}, await openPostgresStore(url)); // never online: it has no link
    for (const id of ["s1", "s2", "s3"]) await standby.mock.receive(report(id));
    await until(() => holder.forwarded.length === 3);
    expect(holder.forwarded.map((f) => f.reported).sort()).toEqual(["spammer-s1@bad.example", "spammer-s2@bad.example", "spammer-s3@bad.example"]);
    expect(standby.forwarded).toHaveLength(0);
    expect(holder.mock.sent.filter((m) => m.name === "message" && m.attrs.to === STAFF)).toHaveLength(3);
  });

  it("after its notification connection was lost, the holder reads the store again and delivers what it missed", async () => {
    const url = await pg.createDatabase();
    const holder = await desk({}, await openPostgresStore(url));
    holder.mock.entity.emit("online", holder.mock.entity.jid);
    const standby = await desk({}, await openPostgresStore(url));
    const admin = await openPostgresStore(url);
    // The holder no longer hears anything; the standby's notification is lost.
    await admin.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'xmppkit notifications' AND datname = current_database()");
    await standby.mock.receive(report("missed"));
    await until(() => holder.forwarded.length === 1);
    expect(holder.forwarded[0]!.reported).toBe("spammer-missed@bad.example");
    await admin.close();
  });
});
