// End-to-end: XEP-0489 queries for the server's users, delegated by each real server to the gateway
// (report-affiliations, loaded by package name; Prosody speaks XEP-0355 :2, ejabberd :1). A second component stands in for a trusted block-list
// service; bob, a user, is not trusted. Prosody also loads the package's companion module
// mod_xmppkit_account_info (plugin_paths + modules_enabled, as an operator would): on 13 it tells the gateway
// when accounts were made, for `since`; on 0.12 it cannot, and says so. ejabberd 24.12 with mod_privilege never
// activates the delegation (compatibility.ts): there a client gets service-unavailable.
// https://xmpp.org/extensions/xep-0489.html · https://xmpp.org/extensions/xep-0355.html
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { component } from "@xmpp/component";
import { formatDateTime, NS_DISCO_INFO, xml, type Element, type EventRecord } from "@xmppkit/core";
import { NS_ACCOUNT_INFO, NS_RAA } from "@xmppkit/report-affiliations";
import { loginClient, startHttpBackend, startProsody, startServer, type HttpBackend, type TestClient, type XmppServer } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { behaviourOf } from "./compatibility.js";
import { captureLogger, closeClient, SERVERS, testConfig, waitFor } from "./helpers.js";

const RTBL = "rtbl.localhost";
const PLUGINS = join(dirname(createRequire(import.meta.url).resolve("@xmppkit/report-affiliations/package.json")), "prosody");

/** Midnight UTC of the day Prosody made `user`'s account, as its account file says (Prosody 13 records it). */
function creationDay(server: XmppServer, user: string): string {
  const file = readFileSync(join(server.dir, "data", server.domain, "accounts", `${user}.dat`), "utf8");
  const seconds = /\bcreated"?\]?\s*=\s*(\d+)/.exec(file)?.[1];
  if (!seconds) throw new Error(`no creation time in ${user}'s account file:\n${file}`);
  const d = new Date(Number(seconds) * 1000);
  return formatDateTime(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())));
}

interface RawComponent {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  on(event: string, fn: (...a: never[]) => void): void;
  iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
}

describe.each(SERVERS)("report-affiliations against a real $id (XEP-0355 delegation of urn:xmpp:raa:0)", (server) => {
  const behaviour = behaviourOf(server.id);
  const delegates = behaviour.delegation === "works";
  /** The server tells when accounts were made: Prosody 13 with mod_xmppkit_account_info. */
  const knowsCreation = behaviour.accountCreation;
  const log = captureLogger();
  let prosody: XmppServer;
  let gateway: Gateway;
  let rtbl: RawComponent;
  let bob: TestClient;
  let accounts: HttpBackend;
  const events: EventRecord[] = [];

  /** Ask as the trusted service; resolves with the reply, or the error reply. */
  async function rtblAsks(user: string): Promise<Element> {
    try {
      return await rtbl.iqCaller.request(xml("iq", { type: "get", from: RTBL, to: user }, xml("query", NS_RAA)), 10_000);
    } catch (err) {
      const el = (err as { element?: Element }).element;
      if (!el) throw err;
      return xml("iq", { type: "error" }, el);
    }
  }

  beforeAll(async () => {
    accounts = await startHttpBackend((req) => (req.url === "/accounts/carol" ? { body: { since: "2026-11-01T12:34:56Z", trust: 70 } } : { status: 404 }));
    const options = {
      users: { alice: "alicepw", bob: "bobpw", carol: "carolpw" },
      component: { delegations: [NS_RAA] },
      components: [{ domain: RTBL, privileges: false as const }],
    };
    prosody =
      server.kind === "prosody"
        ? await startProsody({ ...options, root: server.root, pluginPaths: [PLUGINS], modules: ["xmppkit_account_info"] })
        : await startServer(server, options);
    const { config, sourceMap } = testConfig(
      prosody,
      `modules_enabled: [report-affiliations]
report-affiliations:
  report_affiliations_trusted_servers: [${RTBL}]
  report_affiliations_admins: [admin@${prosody.domain}]
  report_affiliations_url: ${accounts.url}/accounts/%s
`,
    );
    gateway = await startGateway(config, { sourceMap, logger: log.logger });
    gateway.events.onAny((e) => events.push(e));
    if (delegates) await waitFor(() => gateway.kit.delegation.isDelegated(NS_RAA, prosody.domain), "the delegation announcement");
    if (knowsCreation)
      await waitFor(() => log.lines().find((l) => String(l.msg).startsWith("the server tells when accounts were made")), "mod_xmppkit_account_info found");
    const c = prosody.components.find((x) => x.domain === RTBL)!;
    rtbl = component({ service: c.service, domain: c.domain, password: c.secret }) as unknown as RawComponent;
    rtbl.on("error", () => undefined);
    await rtbl.start();
    bob = await loginClient(prosody, "bob");
  });

  afterAll(async () => {
    await gateway?.stop();
    await closeClient(rtbl);
    await bob?.stop();
    await prosody?.stop();
    await accounts?.close();
  });

  it('a trusted server asks about alice@ and gets <info affiliation="registered"/> from alice\'s JID', async () => {
    if (!delegates) return; // the server drops the trusted server's query (the test of bob below)
    const reply = await rtblAsks(`alice@${prosody.domain}`);
    expect(reply.attrs).toMatchObject({ type: "result", from: `alice@${prosody.domain}` });
    const since = knowsCreation ? { since: creationDay(prosody, "alice") } : {};
    expect(reply.getChild("info", NS_RAA)!.attrs).toEqual({ xmlns: NS_RAA, affiliation: "registered", ...since, trust: "50" });
  });

  it("the HTTP provider's creation date is rounded down to the UTC day; config admins are admin", async () => {
    if (!delegates) return;
    expect((await rtblAsks(`carol@${prosody.domain}`)).getChild("info", NS_RAA)!.attrs).toEqual({
      xmlns: NS_RAA,
      affiliation: "registered",
      since: "2026-11-01T00:00:00Z",
      trust: "70",
    });
    expect((await rtblAsks(`admin@${prosody.domain}`)).getChild("info", NS_RAA)!.attrs).toEqual({ xmlns: NS_RAA, affiliation: "admin" });
  });

  it("since from the server's account creation times: Prosody 13 with mod_xmppkit_account_info; the provider's own wins", async () => {
    if (!delegates) return;
    const info = async (user: string) => (await rtblAsks(`${user}@${prosody.domain}`)).getChild("info", NS_RAA)!.attrs;
    const features = (await gateway.kit.iq.get(xml("query", NS_DISCO_INFO), prosody.domain))!.getChildren("feature").map((f) => f.attrs.var);
    expect(features.includes(NS_ACCOUNT_INFO)).toBe(knowsCreation);
    expect((await info("alice")).since).toBe(knowsCreation ? creationDay(prosody, "alice") : undefined);
    expect((await info("carol")).since).toBe("2026-11-01T00:00:00Z");
    if (server.id === "prosody-0.12") expect(prosody.logTail(5000)).toContain("records no account creation times");
  });

  it("mod_xmppkit_account_info answers only entities with a XEP-0356 roster grant, and knows which accounts exist", async () => {
    if (server.kind !== "prosody") return;
    const ask = (user: string) => xml("query", NS_ACCOUNT_INFO, xml("account", { user }));
    const asRtbl = await rtbl.iqCaller
      .request(xml("iq", { type: "get", from: RTBL, to: prosody.domain }, ask("alice")), 10_000)
      .catch((e: { condition?: string }) => e);
    expect(asRtbl).toMatchObject({ condition: knowsCreation ? "forbidden" : "service-unavailable" }); // rtbl has no privileges
    const nobody = await gateway.kit.iq.get(ask("nobody"), prosody.domain).catch((e: { condition?: string }) => e);
    expect(nobody).toMatchObject({ condition: knowsCreation ? "item-not-found" : "service-unavailable" });
    if (!knowsCreation) return;
    const alice = (await gateway.kit.iq.get(ask("alice"), prosody.domain))!.getChild("account")!;
    expect(alice.attrs.user).toBe("alice");
    expect(String(alice.attrs.created).slice(0, 10)).toBe(creationDay(prosody, "alice").slice(0, 10));
  });

  it("an account that does not exist gets an answer of the same shape (but no since where the server tells when accounts were made)", async () => {
    if (!delegates) return;
    // Compared as data: the server may reorder attributes on the way.
    const shape = (e: Element) => {
      const { since: _, ...info } = e.getChild("info", NS_RAA)?.attrs ?? {};
      return { type: e.attrs.type, children: e.children.length, info };
    };
    const [nobody, alice] = [await rtblAsks(`no-such-user@${prosody.domain}`), await rtblAsks(`alice@${prosody.domain}`)];
    expect(shape(nobody)).toEqual(shape(alice));
    expect(nobody.getChild("info", NS_RAA)!.attrs.since).toBeUndefined();
  });

  it("bob@ (a user, not a trusted server) gets forbidden", async () => {
    const err = await bob.request(xml("iq", { type: "get", to: `alice@${prosody.domain}` }, xml("query", NS_RAA))).then(
      () => undefined,
      (e: { element?: Element; condition?: string }) => e,
    );
    if (!delegates) {
      // Never delegated: the server answers for itself.
      expect(err?.condition).toBe("service-unavailable");
      return;
    }
    expect(err?.condition).toBe("forbidden");
    expect(err?.element?.getChild("error")?.attrs.type ?? err?.element?.attrs.type).toBe("auth");
  });

  it("every query is on the event bus, for the audit log", async () => {
    const queried = events.filter((e) => e.type === "affiliation-queried").map((e) => e.payload as { requester: string; outcome: string });
    if (!delegates) {
      expect(queried).toEqual([]); // nothing was delegated
      return;
    }
    expect(queried.some((q) => q.requester.startsWith("bob@") && q.outcome === "forbidden")).toBe(true);
    expect(queried.filter((q) => q.requester === RTBL && q.outcome === "answered").length).toBeGreaterThanOrEqual(5);
  });
});
