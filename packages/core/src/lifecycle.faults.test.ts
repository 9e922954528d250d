// The link against a server that misbehaves on purpose (@xmppkit/testing's fault-injecting XEP-0114 server):
// real sockets, a real @xmpp/component, every stream-level fault a real server will not produce on demand.
import { component } from "@xmpp/component";
import { scripts, startFaultServer, type FaultServer } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { LinkDownError } from "./errors.js";
import { setupKit, type Kit } from "./kit.js";
import { FatalConnectionError, LinkStoppedError, type LifecycleOptions } from "./lifecycle.js";
import { xml } from "./xml.js";

const SECRET = "s3cret";
let server: FaultServer | undefined;
let kit: Kit | undefined;

afterEach(async () => {
  await kit?.lifecycle.stop();
  await server?.close();
  kit = undefined;
  server = undefined;
});

function gateway(s: FaultServer, lifecycle: LifecycleOptions = {}) {
  const entity = component({ service: s.service, domain: s.domain, password: SECRET }) as unknown as XmppEntity;
  kit = setupKit(entity, {
    serverDomain: "localhost",
    ping: { interval: 0 },
    lifecycle: { backoff: { initial: 50, max: 200, jitter: 0 }, ...lifecycle },
  });
  return kit;
}

/** Every `reconnecting` reason, in order. */
function reasons(k: Kit): string[] {
  const out: string[] = [];
  k.lifecycle.on("reconnecting", ({ reason }) => out.push(reason));
  return out;
}

describe("the link against a misbehaving server", () => {
  it.each([
    ["with a page (two XML errors in one chunk)", scripts.http],
    ["without a body", scripts.httpNoBody],
  ])("an HTTP port is a clear fatal error, not a crash: %s", async (_, script) => {
    server = await startFaultServer({ script });
    const k = gateway(server);
    const err = await k.lifecycle.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FatalConnectionError);
    expect((err as Error).message).toMatch(/^not-xmpp: xmpp:\/\/127\.0\.0\.1:\d+ does not speak XMPP: it answered "HTTP\/1\.1 400 Bad Request/);
    expect(server.connections).toHaveLength(1);
  });

  it("garbage after the link is up is a link loss with its reason, and the link comes back", async () => {
    server = await startFaultServer({ script: scripts.garbageAfterOnline });
    const k = gateway(server);
    const lost = k.lifecycle.next("link-lost", 5000);
    await k.lifecycle.start();
    server.setScript(scripts.online);
    expect((await lost).reason).toMatch(/^the server sent malformed XML/);
    await k.lifecycle.next("online", 5000);
    expect(server.connections).toHaveLength(2);
  });

  it("a port that accepts TCP and never answers: each attempt is time-boxed, said, and retried", async () => {
    server = await startFaultServer({ script: scripts.silence });
    const k = gateway(server, { timeouts: { open: 200 } });
    const said = reasons(k);
    const started = k.lifecycle.start();
    await server.nextConnection();
    await server.nextConnection(); // a second attempt after the first timed out
    server.setScript(scripts.online);
    await started;
    expect(said[0]).toMatch(/accepted the connection but sent no XMPP stream header within 0\.2 s/);
  });

  it("a reply to the handshake that is not <handshake/> closes the socket and retries", async () => {
    server = await startFaultServer({ script: scripts.wrongHandshakeReply });
    const k = gateway(server);
    const said = reasons(k);
    const started = k.lifecycle.start();
    const first = await server.nextConnection();
    await first.closed; // the gateway closed it, not the server
    server.setScript(scripts.online);
    await started;
    expect(said[0]).toMatch(/answered the authentication with something else/);
  });

  it("each link loss has its own reason, never the previous outage's", async () => {
    server = await startFaultServer({
      script: async (c) => {
        await c.online();
        await c.streamError("conflict", "replaced by a new connection");
      },
    });
    const k = gateway(server);
    const lost: string[] = [];
    k.lifecycle.on("link-lost", ({ reason }) => lost.push(reason));
    await k.lifecycle.start();
    server.setScript(scripts.closeMidStanza);
    await k.lifecycle.next("link-restored", 5000);
    server.setScript(scripts.online);
    await k.lifecycle.next("link-restored", 5000);
    expect(lost[0]).toBe("another instance holds gateway.localhost (stream error conflict: replaced by a new connection)");
    expect(lost[1]).toBe("the connection closed");
  });

  it("a stanza over the inbound limit ends the stream with policy-violation instead of filling memory", async () => {
    server = await startFaultServer({
      script: async (c) => {
        await c.online();
        await c.write(`<message from='localhost' to='gateway.localhost'><body>${"x".repeat(200_000)}`);
        await c.write("y".repeat(200_000));
      },
    });
    const k = gateway(server, { maxInboundStanzaBytes: 100_000 });
    const lost = k.lifecycle.next("link-lost", 5000);
    await k.lifecycle.start();
    server.setScript(scripts.online);
    expect((await lost).reason).toBe("the server sent a stanza over the 100000-byte limit; the stream was closed (policy-violation)");
    await server.connections[0]!.waitFor("<policy-violation");
  });

  it("stop() while connecting: start() rejects, nothing reconnects", async () => {
    server = await startFaultServer({ script: scripts.silence });
    const k = gateway(server);
    const started = k.lifecycle.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    await server.nextConnection();
    await k.lifecycle.stop();
    expect(await started).toBeInstanceOf(LinkStoppedError);
    await new Promise((r) => setTimeout(r, 150)); // three first backoffs: time enough for a reconnect to show
    expect(server.connections).toHaveLength(1);
  });

  it("after endReconnects() a lost link stays down, and sends fail with LinkDownError", async () => {
    server = await startFaultServer();
    const k = gateway(server);
    await k.lifecycle.start();
    k.lifecycle.endReconnects();
    let reconnects = 0;
    k.lifecycle.on("reconnecting", () => reconnects++);
    const lost = k.lifecycle.next("link-lost", 5000);
    server.connections[0]!.destroy();
    await lost;
    await new Promise((r) => setTimeout(r, 150)); // three first backoffs: time enough for a reconnect to show
    expect(reconnects).toBe(0);
    expect(server.connections).toHaveLength(1);
    await expect(k.stanzas.send(xml("message", { to: "alice@localhost" }))).rejects.toBeInstanceOf(LinkDownError);
  });

  it("an IQ in flight when the link drops fails at once, not after the IQ timeout", async () => {
    server = await startFaultServer();
    const k = gateway(server);
    await k.lifecycle.start();
    const conn = server.connections[0]!;
    const pending = k.iq.get(xml("query", "jabber:iq:version"), "localhost");
    await conn.waitFor("jabber:iq:version");
    conn.destroy();
    await expect(pending).rejects.toThrow(/the link to the server dropped \(the connection closed\) before the reply came/);
  });
});
