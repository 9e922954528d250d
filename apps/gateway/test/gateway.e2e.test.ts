// End-to-end: the gateway against each real server (Debian's Prosody 0.12 + prosody-modules, and ejabberd
// 23.01), started on free loopback ports by @xmppkit/testing. Where ejabberd differs, the expectation says
// how (and docs/compatibility.md says it to operators).
import { defineModule, StanzaError, xml } from "@xmppkit/core";
import { z } from "@xmppkit/runtime";
import { loginClient, startServer, type ServerKind, type TestClient, type XmppServer } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { behaviourOf } from "./compatibility.js";
import { captureLogger, closeClient, SERVERS, testConfig, waitFor } from "./helpers.js";

const RAA = "urn:xmpp:raa:0";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";

// A module as a feature package would write it, loaded through the gateway's registry.
const testDelegation = defineModule({
  name: "test-delegation",
  description: "answers delegated urn:xmpp:raa:0 queries (test only)",
  options: z.strictObject({ affiliation: z.string().default("registered") }),
  requires: {
    delegations: [RAA],
    permissions: [
      { access: "roster", type: "both" },
      { access: "iq", namespace: "urn:xmpp:ping", type: "get" },
    ],
  },
  setup(ctx, options) {
    ctx.kit.disco.addFeature("urn:xmppkit:test");
    ctx.kit.delegation.handle(RAA, ({ element, to }) => {
      if (element.attrs.deny) throw new StanzaError("forbidden", "auth", "not for you");
      return xml("info", { xmlns: RAA, affiliation: options.affiliation, jid: to });
    });
    return { answered: 0 };
  },
});

/** Per server: what the start-up warning says, and how the server names itself. */
const WORDS: Record<ServerKind, { fix: string; software: RegExp }> = {
  prosody: { fix: 'privileged_entities = { ["gateway.localhost"] = { iq = { ["urn:xmpp:ping"] = "get" } } }', software: /^the server is Prosody/ },
  // no IQ permission before ejabberd 24.10
  ejabberd: { fix: 'ejabberd ≥ 24.10: modules: mod_privilege: iq: "urn:xmpp:ping": get:', software: /^the server is ejabberd/ },
};

describe.each(SERVERS)("gateway against a real $id", (server) => {
  const { kind } = server;
  const behaviour = behaviourOf(server.id);
  let prosody: XmppServer;
  let gateway: Gateway;
  let alice: TestClient;
  let bob: TestClient;
  const log = captureLogger();

  beforeAll(async () => {
    prosody = await startServer(server, { component: { delegations: [RAA] } });
    const { config, sourceMap } = testConfig(prosody, "modules_enabled: [test-delegation]\ntest-delegation:\n  affiliation: member\n");
    gateway = await startGateway(config, { registry: { "test-delegation": testDelegation }, logger: log.logger, sourceMap });
    alice = await loginClient(prosody, "alice");
    bob = await loginClient(prosody, "bob");
  });

  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    await gateway?.stop();
    await prosody?.stop();
  });

  it("connects and reports the granted permissions and the delegated namespace", () => {
    expect(gateway.kit.lifecycle.online).toBe(true);
    expect(gateway.kit.privilege.permissions("localhost")).toEqual({
      namespace: behaviour.privilegeNs,
      server: "localhost",
      roster: "both",
      message: "outgoing",
      presence: "roster",
      iq: {},
    });
    expect(gateway.kit.delegation.isDelegated(RAA, "localhost")).toBe(behaviour.delegation === "works");
    const lines = log.lines();
    expect(lines).toContainEqual(expect.objectContaining({ msg: "connected to the server", jid: "gateway.localhost" }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: "XEP-0356 permissions granted", granted: "roster=both message=outgoing presence=roster" }));
    if (behaviour.delegation === "works") expect(lines).toContainEqual(expect.objectContaining({ msg: "XEP-0355 namespaces delegated", namespaces: [RAA] }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: "modules loaded", modules: ["test-delegation"] }));
  });

  it("warns about a permission a module needs but the server did not grant, with the config that grants it in the server's language", () => {
    const warning = log.lines().find((l) => l.missing === "iq urn:xmpp:ping=get");
    expect(warning).toMatchObject({ module: "test-delegation", level: 40 });
    expect(String(warning!.fix)).toContain(WORDS[kind].fix);
    expect(String(warning!.fix)).not.toContain(kind === "prosody" ? "ejabberd" : "Prosody");
  });

  it("knows which server it is, and raises no false start-up warning (the announcements are waited for)", () => {
    const msgs = log.lines().map((l) => String(l.msg));
    expect(msgs.some((m) => WORDS[kind].software.test(m))).toBe(true);
    expect(msgs).not.toContain("the server sent no XEP-0356 privilege announcement");
    expect(msgs.filter((m) => m.includes("needs a delegated namespace"))).toEqual([]);
    // ejabberd 24.12's mod_privilege: one line says what it drops, what that costs, and the ways out.
    const drops = log.lines().filter((l) => String(l.msg).startsWith("ejabberd's mod_privilege drops every IQ gateway.localhost sends"));
    expect(drops).toHaveLength(behaviour.componentIqs === "full-jids-only" ? 1 : 0);
    if (drops.length) {
      expect(drops[0]).toMatchObject({ level: 40, keepalive: "pings localhost/xmppkit (full JIDs are routed)" });
      expect(String(drops[0]!.msg)).toContain("test-delegation (urn:xmpp:raa:0) answers nothing");
      expect(String(drops[0]!.msg)).toContain("ejabberd ≥ 25.03, or no mod_privilege");
      expect(gateway.kit.reach.state).toBe("full-jids-only");
    } else expect(gateway.kit.reach.state).toBe("all");
  });

  it("answers a client's disco#info with its identity and the features of the loaded modules", async () => {
    const reply = await alice.request(xml("iq", { type: "get", to: "gateway.localhost" }, xml("query", DISCO_INFO)));
    const query = reply.getChild("query", DISCO_INFO)!;
    expect(query.getChild("identity")!.attrs).toMatchObject({ category: "component", type: "generic", name: "xmppkit gateway" });
    expect(query.getChildren("feature").map((f) => f.attrs.var)).toEqual(expect.arrayContaining(["urn:xmpp:ping", "urn:xmppkit:test", DISCO_INFO]));
  });

  it("answers a client's ping", async () => {
    const reply = await alice.request(xml("iq", { type: "get", to: "gateway.localhost" }, xml("ping", "urn:xmpp:ping")));
    expect(reply.attrs).toMatchObject({ type: "result", from: "gateway.localhost" });
  });

  it("round-trips a privileged roster set and get through the core helpers, and alice's client gets the push", async () => {
    await alice.fetchRoster();
    if (behaviour.privilegedRosterSet === "internal-server-error") {
      const err = await gateway.kit.privilege
        .rosterSet("alice@localhost", [{ jid: "marie@example.com", name: "Marie", subscription: "both", groups: [] }])
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ condition: "internal-server-error", text: "Module failed to handle the query" });
      return;
    }
    await gateway.kit.privilege.rosterSet("alice@localhost", [{ jid: "marie@example.com", name: "Marie", subscription: "both", groups: ["Friends"] }]);
    const items = await gateway.kit.privilege.rosterGet("alice@localhost");
    // ejabberd 24.12 keeps a new contact's subscription "none" whatever the set says.
    const stored = behaviour.privilegedRosterSet === "works" ? "both" : "none";
    expect(items).toContainEqual({ jid: "marie@example.com", name: "Marie", subscription: stored, groups: ["Friends"] });
    const push = await waitFor(() => alice.rosterPushes.find((p) => p.getChild("query")?.getChild("item")?.attrs.jid === "marie@example.com"), "roster push");
    expect(push.getChild("query")!.getChild("item")!.attrs).toMatchObject({ name: "Marie", subscription: stored });
    await gateway.kit.privilege.rosterSet("alice@localhost", [{ jid: "marie@example.com", subscription: "remove", groups: [] }]);
    expect(await gateway.kit.privilege.rosterGet("alice@localhost")).not.toContainEqual(expect.objectContaining({ jid: "marie@example.com" }));
  });

  it("a privileged roster get for a user that does not exist is an empty roster (the server's answer)", async () => {
    expect(await gateway.kit.privilege.rosterGet("nobody@localhost")).toEqual([]);
  });

  it("routes a delegated IQ from a client to the module's handler and returns its answer", async () => {
    if (behaviour.delegation !== "works") {
      // Never delegated: the server answers for itself.
      const err = await bob.request(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", RAA))).catch((e: unknown) => e);
      expect(err).toMatchObject({ condition: "service-unavailable" });
      return;
    }
    const reply = await bob.request(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", RAA)));
    expect(reply.attrs).toMatchObject({ type: "result", from: "alice@localhost" });
    expect(reply.getChild("info", RAA)!.attrs).toMatchObject({ affiliation: "member", jid: "alice@localhost" });
  });

  it("returns a handler's error answer to the client", async () => {
    if (behaviour.delegation !== "works") return; // nothing reaches the handler (the test above)
    const err = (await bob.request(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", { xmlns: RAA, deny: "1" }))).catch((e: unknown) => e)) as {
      condition?: string;
      text?: string;
    };
    expect(err.condition).toBe("forbidden");
    expect(err.text).toBe("not for you");
  });

  it("emits core events for the audit trail", async () => {
    const seen: string[] = [];
    const off = gateway.events.onAny((r) => seen.push(r.type));
    if (behaviour.delegation === "works") await bob.request(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", RAA)));
    await fetch(`${gateway.http.url}/healthz`);
    off();
    expect(seen).toEqual(expect.arrayContaining([...(behaviour.delegation === "works" ? ["delegated-iq-answered"] : []), "http-request"]));
  });

  it("keeps the link up: keepalive pings answered (ejabberd 24.12: by the server's full JID), no reconnect", async () => {
    const target = gateway.kit.reach.echoTarget()!;
    expect(target).toBe(behaviour.componentIqs === "routed" ? "localhost" : "localhost/xmppkit");
    // A keepalive ping goes out only once the one before was answered (an unanswered one drops the link):
    // the second one sent proves a round trip.
    let sent = 0;
    await new Promise<void>((resolve) => {
      const off = gateway.kit.stanzas.onOutgoing((s) => {
        if (s.name !== "iq" || s.attrs.to !== target || !s.getChild("ping", "urn:xmpp:ping")) return;
        if (++sent === 2) {
          off();
          resolve();
        }
      });
    });
    const text = await (await fetch(`${gateway.http.url}/metrics`)).text();
    expect(text).toMatch(/xmppkit_reconnects_total 0/);
    expect(text).toMatch(/xmppkit_link_up 1/);
  });

  it("serves /metrics in Prometheus text format", async () => {
    const text = await (await fetch(`${gateway.http.url}/metrics`)).text();
    expect(text).toMatch(/xmppkit_stanzas_in_total\{name="iq"\} \d+/);
    expect(text).toMatch(/xmppkit_link_up 1/);
  });

  it("a second connection of the same component: refused (Prosody), or stealing the grants when it leaves (ejabberd), which the gateway notices at the next keepalive and heals", {
    timeout: 45_000,
  }, async () => {
    const { component } = (await import("@xmpp/component")) as unknown as {
      component(o: object): {
        start(): Promise<unknown>;
        stop(): Promise<unknown>;
        on(e: string, f: (e: Error & { condition?: string }) => void): void;
        reconnect: { stop(): void };
      };
    };
    const second = component({ service: prosody.component.service, domain: prosody.component.domain, password: prosody.component.secret });
    second.reconnect.stop(); // one attempt: a retrying second connection would race the gateway for the slot later
    const errors: string[] = [];
    second.on("error", (e) => void errors.push(e.condition ?? e.message));
    const started = await second.start().then(
      () => "online",
      () => "refused",
    );
    if (behaviour.secondConnection === "refused") {
      expect(started).toBe("refused");
      expect(errors).toContain("conflict");
      await closeClient(second);
      expect(await gateway.kit.privilege.verify("localhost")).toBe(true);
      return;
    }
    expect(started).toBe("online");
    // 23.01 answers the next grant check forbidden; 24.12 drops it, and a ping then tells silence from a slow link.
    const restored = gateway.kit.lifecycle.next("link-restored", 30_000);
    await closeClient(second);
    await restored; // the keepalive's grant check found them gone and rebuilt the link
    expect(log.lines().some((l) => String(l.msg).startsWith("the server withdrew the XEP-0356 grants"))).toBe(true);
    await waitFor(() => gateway.kit.privilege.permissions("localhost"), "the grants announced again");
    expect(await gateway.kit.privilege.verify("localhost")).toBe(true);
    expect(((await (await fetch(`${gateway.http.url}/healthz`)).json()) as { grants: string }).grants).toBe("granted");
  });

  it("comes back online after the server restarts, and /healthz follows the link", async () => {
    expect((await fetch(`${gateway.http.url}/healthz`)).status).toBe(200);
    const lost = gateway.kit.lifecycle.next("link-lost", 10_000);
    const restored = gateway.kit.lifecycle.next("link-restored", 30_000);
    const restart = prosody.restart();
    await lost;
    const down = await fetch(`${gateway.http.url}/healthz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: "unavailable", link: "down" });
    await restart;
    await restored;
    const up = await fetch(`${gateway.http.url}/healthz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: "ok", link: "up", grants: "granted", component: "gateway.localhost" });
    // The server re-announces privileges and delegations on the new stream.
    await waitFor(() => gateway.kit.privilege.permissions("localhost")?.roster === "both", "privileges after reconnect");
    const c = await loginClient(prosody, "bob", { resource: "after-restart" });
    if (behaviour.delegation === "works") {
      const reply = await c.request(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", RAA)));
      expect(reply.getChild("info", RAA)).toBeDefined();
    }
    await gateway.kit.reach.settled(); // the new link's check: until then the round trip goes to the domain
    expect(await gateway.kit.ping.ping(gateway.kit.reach.echoTarget()!)).toBeGreaterThan(0); // the keepalive's round trip works
    await c.stop();
  });
});
