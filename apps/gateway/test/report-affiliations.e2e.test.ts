// End-to-end: XEP-0489 queries for the server's users, delegated by each real server to the gateway
// (report-affiliations, loaded by package name; Prosody speaks XEP-0355 :2, ejabberd :1). A second component stands in for a trusted block-list
// service; bob, a user, is not trusted.
import { component } from "@xmpp/component";
import { xml, type Element, type EventRecord } from "@xmppkit/core";
import { NS_RAA } from "@xmppkit/report-affiliations";
import { loginClient, startHttpBackend, startServer, type HttpBackend, type TestClient, type XmppServer } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { captureLogger, SERVERS, testConfig, waitFor } from "./helpers.js";

const RTBL = "rtbl.localhost";

interface RawComponent {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  on(event: string, fn: (...a: never[]) => void): void;
  iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
}

describe.each(SERVERS)("report-affiliations against a real $id (XEP-0355 delegation of urn:xmpp:raa:0)", (server) => {
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
    prosody = await startServer(server, {
      users: { alice: "alicepw", bob: "bobpw", carol: "carolpw" },
      component: { delegations: [NS_RAA] },
      components: [{ domain: RTBL, privileges: false }],
    });
    const { config, sourceMap } = testConfig(
      prosody,
      `modules_enabled: [report-affiliations]
report-affiliations:
  report_affiliations_trusted_servers: [${RTBL}]
  report_affiliations_admins: [admin@${prosody.domain}]
  report_affiliations_url: ${accounts.url}/accounts/%s
`,
    );
    gateway = await startGateway(config, { sourceMap, logger: captureLogger().logger });
    gateway.events.onAny((e) => events.push(e));
    await waitFor(() => gateway.kit.delegation.isDelegated(NS_RAA, prosody.domain), "the delegation announcement");
    const c = prosody.components.find((x) => x.domain === RTBL)!;
    rtbl = component({ service: c.service, domain: c.domain, password: c.secret }) as unknown as RawComponent;
    rtbl.on("error", () => undefined);
    await rtbl.start();
    bob = await loginClient(prosody, "bob");
  });

  afterAll(async () => {
    await gateway?.stop();
    await rtbl?.stop().catch(() => undefined);
    await bob?.stop();
    await prosody?.stop();
    await accounts?.close();
  });

  it('a trusted server asks about alice@ and gets <info affiliation="registered"/> from alice\'s JID', async () => {
    const reply = await rtblAsks(`alice@${prosody.domain}`);
    expect(reply.attrs).toMatchObject({ type: "result", from: `alice@${prosody.domain}` });
    expect(reply.getChild("info", NS_RAA)!.attrs).toEqual({ xmlns: NS_RAA, affiliation: "registered", trust: "50" });
  });

  it("the HTTP provider's creation date is rounded down to the UTC day; config admins are admin", async () => {
    expect((await rtblAsks(`carol@${prosody.domain}`)).getChild("info", NS_RAA)!.attrs).toEqual({
      xmlns: NS_RAA,
      affiliation: "registered",
      since: "2026-11-01T00:00:00Z",
      trust: "70",
    });
    expect((await rtblAsks(`admin@${prosody.domain}`)).getChild("info", NS_RAA)!.attrs).toEqual({ xmlns: NS_RAA, affiliation: "admin" });
  });

  it("an account that does not exist gets an answer of the same shape", async () => {
    const shape = (e: Element) => e.toString().replace(/ (from|to|id)="[^"]*"/g, "");
    expect(shape(await rtblAsks(`no-such-user@${prosody.domain}`))).toBe(shape(await rtblAsks(`alice@${prosody.domain}`)));
  });

  it("bob@ (a user, not a trusted server) gets forbidden", async () => {
    const err = await bob.request(xml("iq", { type: "get", to: `alice@${prosody.domain}` }, xml("query", NS_RAA))).then(
      () => undefined,
      (e: { element?: Element; condition?: string }) => e,
    );
    expect(err?.condition).toBe("forbidden");
    expect(err?.element?.getChild("error")?.attrs.type ?? err?.element?.attrs.type).toBe("auth");
  });

  it("every query is on the event bus, for the audit log", async () => {
    const queried = events.filter((e) => e.type === "affiliation-queried").map((e) => e.payload as { requester: string; outcome: string });
    expect(queried.some((q) => q.requester.startsWith("bob@") && q.outcome === "forbidden")).toBe(true);
    expect(queried.filter((q) => q.requester === RTBL && q.outcome === "answered").length).toBeGreaterThanOrEqual(5);
  });
});
