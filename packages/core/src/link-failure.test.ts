import { describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { FatalConnectionError, describeError, fatalStreamError, notXmppError } from "./link-failure.js";

const component = { NS: "jabber:component:accept", options: { domain: "gw.localhost", service: "xmpp://localhost:5347" }, jid: null } as unknown as XmppEntity;

describe("link failures", () => {
  it("only stream errors no retry will fix are fatal", () => {
    const fatal = fatalStreamError(Object.assign(new Error("x"), { condition: "host-unknown" }));
    expect(fatal).toBeInstanceOf(FatalConnectionError);
    expect(fatal?.message).toMatch(/^host-unknown: the server does not serve this domain/);
    expect(fatalStreamError(Object.assign(new Error("x"), { condition: "conflict" }))).toBeUndefined();
    expect(fatalStreamError(new Error("ECONNREFUSED"))).toBeUndefined();
  });

  it("says what went wrong in words", () => {
    expect(describeError(Object.assign(new Error("c"), { condition: "conflict", text: "replaced" }), component)).toBe(
      "another instance holds gw.localhost (stream error conflict: replaced)",
    );
    expect(describeError(Object.assign(new Error("s"), { condition: "system-shutdown" }), component)).toBe("stream error system-shutdown");
    expect(describeError(Object.assign(new Error("bad"), { name: "XMLError" }), component)).toBe("the server sent malformed XML (bad)");
  });

  it("quotes what a service that does not speak XMPP answered, cut and printable", () => {
    const err = notXmppError(component, `HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n${"x".repeat(80)}`);
    expect(err.condition).toBe("not-xmpp");
    expect(err.message).toMatch(
      /^not-xmpp: xmpp:\/\/localhost:5347 does not speak XMPP: it answered "HTTP\/1\.1 400 Bad Request Content-Type: text\/html x+…"/,
    );
    expect(err.message).toMatch(/the server's component port\?\)$/);
  });
});
