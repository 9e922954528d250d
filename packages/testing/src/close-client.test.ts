// closeClient against a fake c2s server that, like a busy real one, keeps delivering its backlog after the
// client's </stream:stream> for longer than xmpp.js waits (2 s). A plain xmpp.stop() then drops its parser
// and each further chunk throws "Cannot read properties of null (reading 'write')" from _onData (an
// uncaught exception, which vitest reports as an unhandled error); closeClient must not.
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { closeClient } from "./clients.js";
import { importPeer } from "./mock-entity.js";

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>";

/** Logs anyone in (ANONYMOUS, bind), then after the client's </stream:stream> sends a message every 20 ms for `lingerMs`. */
function backloggedServer(lingerMs: number): Promise<{ server: Server; port: number; drained: Promise<number> }> {
  let drainedWith: (n: number) => void = () => undefined;
  const drained = new Promise<number>((r) => (drainedWith = r));
  const server = createServer({ allowHalfOpen: true }, (s) => {
    let stage = 0;
    s.on("error", () => undefined);
    s.on("data", (d) => {
      const text = String(d);
      if (stage === 0 && text.includes("<stream:stream")) {
        stage = 1;
        s.write(
          `${HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>ANONYMOUS</mechanism></mechanisms></stream:features>`,
        );
      } else if (stage === 1 && text.includes("<auth")) {
        stage = 2;
        s.write("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
      } else if (stage === 2 && text.includes("<stream:stream")) {
        stage = 3;
        s.write(`${HEADER}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`);
      } else if (stage === 3 && text.includes("<iq")) {
        stage = 4;
        const id = /id=["']([^"']+)/.exec(text)![1];
        s.write(`<iq type='result' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>a@localhost/r</jid></bind></iq>`);
      } else if (stage === 4 && text.includes("</stream:stream>")) {
        stage = 5;
        const start = Date.now();
        let sent = 0;
        const timer = setInterval(() => {
          if (Date.now() - start > lingerMs || s.destroyed || !s.writable) {
            clearInterval(timer);
            s.end();
            drainedWith(sent);
            return;
          }
          sent++;
          s.write("<message from='localhost' to='a@localhost/r'><body>backlog</body></message>");
        }, 20);
      }
    });
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r({ server, port: (server.address() as { port: number }).port, drained })));
}

describe("closeClient", () => {
  let server: Server | undefined;
  afterEach(() => void server?.close());

  it("stops a client whose server keeps sending past the close timeout, with no error from late data", async () => {
    const fake = await backloggedServer(3000);
    server = fake.server;
    const { client } = (await importPeer("@xmpp/client")) as unknown as {
      client(o: object): { start(): Promise<unknown>; stop(): Promise<unknown>; on(e: string, f: () => void): void; reconnect: { stop(): void } };
    };
    const xmpp = client({ service: `xmpp://127.0.0.1:${fake.port}`, domain: "localhost", resource: "r" });
    xmpp.on("error", () => undefined);
    await xmpp.start();
    await closeClient(xmpp);
    // The server wrote on until the socket was gone; anything late reached the guarded listener, not _onData.
    expect(await fake.drained).toBeGreaterThan(0);
    await new Promise((r) => setImmediate(r));
  });

  it("is a no-op for an entity that was never created", async () => {
    await expect(closeClient(undefined)).resolves.toBeUndefined();
  });
});
