import { setupKit, xml, type Element, type Kit, type XmppEntity } from "@xmppkit/core";
import { captureLogger, mockClient, mockComponent, type MockEntity } from "@xmppkit/testing";
import { describe, expect, it, vi } from "vitest";
import { ownRoster, privilegedRoster, type RosterAccess } from "./roster-access.js";
import { setupRosterAdmin } from "./roster-admin.js";
import { NS_ROSTER_BATCH } from "./roster-batch.js";
import { adaptToServer, logServerFinding, type ServerAdaptationOptions, type ServerFinding } from "./server-adaptation.js";

/** vi.waitFor with room for a busy machine (its default gives up after 1 s). */
const eventually = <T>(fn: () => T | Promise<T>) => vi.waitFor(fn, { timeout: 30_000, interval: 20 });

const GW = "gateway.localhost";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const isDiscoInfo = (s: Element) => s.name === "iq" && s.attrs.to === "localhost" && !!s.getChild("query", NS_DISCO_INFO);

/** The server's disco#info: its identity and features. */
const serverInfo = (name: string, ...features: string[]) =>
  xml("query", NS_DISCO_INFO, xml("identity", { category: "server", type: "im", name }), ...features.map((f) => xml("feature", { var: f })));

const grant = (perms: Record<string, string>, from = "localhost") =>
  xml("message", { from, to: GW }, xml("privilege", "urn:xmpp:privilege:2", ...Object.entries(perms).map(([access, type]) => xml("perm", { access, type }))));

async function component(): Promise<{ mock: MockEntity<XmppEntity>; kit: Kit }> {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  return { mock, kit };
}

/** adaptToServer on a component with a privileged roster; the findings collected. */
async function adapted(options: ServerAdaptationOptions = {}, { wantsLogins = true, roster }: { wantsLogins?: boolean; roster?: RosterAccess } = {}) {
  const { mock, kit } = await component();
  const access = privilegedRoster({ privilege: kit.privilege, iq: kit.iq }, { server: "localhost", batchSize: 100 });
  const findings: ServerFinding[] = [];
  const stop = adaptToServer({ roster: roster ?? access, kit, wantsLogins }, { report: (f) => void findings.push(f), ...options });
  const connect = async () => {
    mock.entity.emit("online", mock.entity.jid);
    await eventually(() => expect(mock.sent.filter(isDiscoInfo).length).toBeGreaterThan(0));
    await new Promise((r) => setImmediate(r));
  };
  return { mock, kit, access, findings, stop, connect };
}

describe("adaptToServer: the roster batch feature", () => {
  it("is asked at every connect: batch sets on while the server advertises it, off once it no longer does", async () => {
    const { mock, access, findings, connect } = await adapted();
    const reply = mock.replyToIq(isDiscoInfo, serverInfo("Prosody", NS_ROSTER_BATCH));
    await connect();
    await eventually(() => expect(access.batchSize).toBe(100));
    expect(findings).toEqual([{ type: "batching", server: "localhost", batchSize: 100 }]);

    reply();
    mock.replyToIq(isDiscoInfo, serverInfo("Prosody"));
    mock.clear();
    await connect();
    await eventually(() => expect(access.batchSize).toBe(0));
    expect(findings).toHaveLength(1); // "auto": its absence is no finding
  });

  it("batch: true makes its absence a finding; batch: false never asks", async () => {
    const forced = await adapted({ batch: true });
    forced.mock.replyToIq(isDiscoInfo, serverInfo("Prosody"));
    await forced.connect();
    await eventually(() => expect(forced.findings).toEqual([{ type: "batch-missing", server: "localhost" }]));

    const never = await adapted({ batch: false });
    never.mock.replyToIq(isDiscoInfo, serverInfo("Prosody", NS_ROSTER_BATCH));
    await never.connect();
    expect(never.mock.sent.filter(isDiscoInfo)).toHaveLength(1); // the software check only
    expect(never.access.batchSize).toBe(0);
  });
});

describe("adaptToServer: the server software", () => {
  it("privileged writes on ejabberd are a finding; on Prosody they are not", async () => {
    const ejabberd = await adapted();
    ejabberd.mock.replyToIq(isDiscoInfo, serverInfo("ejabberd"));
    await ejabberd.connect();
    await eventually(() =>
      expect(ejabberd.findings).toEqual([{ type: "ejabberd-privileged", server: "localhost", software: { kind: "ejabberd", name: "ejabberd" } }]),
    );

    const prosody = await adapted();
    prosody.mock.replyToIq(isDiscoInfo, serverInfo("Prosody"));
    await prosody.connect();
    expect(prosody.findings).toEqual([]);
  });

  it("ejabberd's API as the writer suits ejabberd and is a finding elsewhere", async () => {
    const onEjabberd = await adapted({ writer: "ejabberd_api" });
    onEjabberd.mock.replyToIq(isDiscoInfo, serverInfo("ejabberd"));
    await onEjabberd.connect();
    expect(onEjabberd.findings).toEqual([]);

    const onProsody = await adapted({ writer: "ejabberd_api", batch: false });
    onProsody.mock.replyToIq(isDiscoInfo, serverInfo("Prosody"));
    await onProsody.connect();
    await eventually(() => expect(onProsody.findings).toMatchObject([{ type: "writer-mismatch", software: { name: "Prosody" } }]));
  });

  it("a roster that is not the privileged writer, without a writer named, is not judged (nothing asked)", async () => {
    const { mock, kit } = await component();
    const other: RosterAccess = { kind: "privileged", domain: "localhost", honoursSubscription: true, get: async () => [], set: async () => undefined };
    const findings: ServerFinding[] = [];
    adaptToServer({ roster: other, kit, wantsLogins: false }, { report: (f) => void findings.push(f) });
    mock.replyToIq(isDiscoInfo, serverInfo("ejabberd"));
    mock.entity.emit("online", mock.entity.jid);
    await new Promise((r) => setTimeout(r, 20));
    expect(mock.sent.filter(isDiscoInfo)).toEqual([]);
    expect(findings).toEqual([]);
  });
});

describe("adaptToServer: the presence permission", () => {
  it("a grant without presence is a finding when logins are to be synced; presence roster or managed_entity is enough", async () => {
    const { mock, findings } = await adapted();
    await mock.receive(grant({ roster: "both" }));
    expect(findings).toEqual([{ type: "no-presence", server: "localhost" }]);
    await mock.receive(grant({ roster: "both", presence: "roster" }));
    await mock.receive(grant({ roster: "both", presence: "managed_entity" }));
    expect(findings).toHaveLength(1);
  });

  it("no finding when logins are not synced", async () => {
    const quiet = await adapted({}, { wantsLogins: false });
    await quiet.mock.receive(grant({ roster: "both" }));
    expect(quiet.findings).toEqual([]);
  });

  it("stops checking once stopped", async () => {
    const { mock, findings, stop } = await adapted();
    mock.replyToIq(isDiscoInfo, serverInfo("ejabberd"));
    stop();
    await mock.receive(grant({ roster: "both" }));
    mock.entity.emit("online", mock.entity.jid);
    await new Promise((r) => setTimeout(r, 20));
    expect(findings).toEqual([]);
    expect(mock.sent.filter(isDiscoInfo)).toEqual([]);
  });
});

describe("logServerFinding", () => {
  it("says each finding in the package's terms: ejabberd as an error with the fix", () => {
    const { logger, lines } = captureLogger();
    const say = logServerFinding(logger);
    say({ type: "ejabberd-privileged", server: "localhost", software: { kind: "ejabberd", name: "ejabberd" } });
    say({ type: "batching", server: "localhost", batchSize: 250 });
    say({ type: "no-presence", server: "localhost" });
    const [error, info, warn] = lines();
    expect(error).toMatchObject({ level: 50, software: "ejabberd", msg: expect.stringContaining("ejabberd's XEP-0356 roster writes do not do the job") });
    expect(String(error!.fix)).toMatch(/^ejabberdApiRoster\(/);
    expect(info).toMatchObject({ level: 30, batchSize: 250, msg: "the server batches roster sets (mod_xmppkit_roster_batch): one set per user" });
    expect(warn).toMatchObject({ level: 40, msg: expect.stringContaining("no XEP-0356 presence permission") });
  });
});

describe("setupRosterAdmin with a kit", () => {
  it("a bridge gets the checks by default, logged through its logger; adapt: false asks nothing", async () => {
    const { mock, kit } = await component();
    const { logger, lines } = captureLogger();
    const roster = privilegedRoster({ privilege: kit.privilege, iq: kit.iq }, { server: "localhost" });
    const admin = setupRosterAdmin({ ...kit, roster, logger }, { url: "http://127.0.0.1:9/%s" });
    mock.replyToIq(isDiscoInfo, serverInfo("ejabberd", NS_ROSTER_BATCH));
    await mock.receive(grant({ roster: "both" }));
    mock.entity.emit("online", mock.entity.jid);
    await eventually(() => expect(roster.batchSize).toBe(250));
    await eventually(() => expect(lines().filter((l) => l.level === 50)).toHaveLength(1));
    expect(lines().map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        expect.stringContaining("no XEP-0356 presence permission"),
        "the server batches roster sets (mod_xmppkit_roster_batch): one set per user",
        expect.stringContaining("ejabberd's XEP-0356 roster writes do not do the job"),
      ]),
    );
    await admin.stop();

    const other = await component();
    const plain = privilegedRoster({ privilege: other.kit.privilege, iq: other.kit.iq }, { server: "localhost" });
    const quiet = setupRosterAdmin({ ...other.kit, roster: plain }, { url: "http://127.0.0.1:9/%s", adapt: false });
    other.mock.entity.emit("online", other.mock.entity.jid);
    await new Promise((r) => setTimeout(r, 20));
    expect(other.mock.sent.filter(isDiscoInfo)).toEqual([]);
    await quiet.stop();
  });

  it("a client bot's own roster is not judged: nothing asked of the server", async () => {
    const mock = await mockClient<XmppEntity>({ jid: "bot@localhost/r" });
    const kit = setupKit(mock.entity, { ping: { interval: 0 } });
    const roster = ownRoster({ entity: mock.entity, iq: kit.iq, stanzas: kit.stanzas });
    const admin = setupRosterAdmin({ ...kit, roster }, { url: "http://127.0.0.1:9/%s", syncOnLogin: false });
    mock.entity.emit("online", mock.entity.jid);
    await new Promise((r) => setTimeout(r, 20));
    expect(mock.sent.filter((s) => !!s.getChild("query", NS_DISCO_INFO))).toEqual([]);
    await admin.stop();
  });
});
