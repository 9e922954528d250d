import { NS_PING, StanzaError, IqTimeoutError, type Element } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { classifySelfPing, ghostReason, selfPing, type PingOutcome } from "./self-ping.js";

const err = (condition: string, text?: string): PingOutcome => ({ kind: "error", condition, ...(text ? { text } : {}) });

describe("classifySelfPing (XEP-0410 §3)", () => {
  it.each([
    [{ kind: "result" } as PingOutcome, "joined", "joined"],
    [err("service-unavailable"), "joined", "not-joined"],
    [err("feature-not-implemented"), "joined", "not-joined"],
    [err("not-acceptable", "You are not currently connected to this chat"), "not-joined", "not-joined"],
    [err("item-not-found"), "not-joined", "not-joined"],
    [err("not-allowed"), "not-joined", "not-joined"],
    [err("bad-request"), "not-joined", "not-joined"],
    [err("remote-server-not-found"), "undecided", "not-joined"],
    [err("remote-server-timeout"), "undecided", "not-joined"],
    [{ kind: "timeout", timeoutMs: 30_000 } as PingOutcome, "undecided", "not-joined"],
    [{ kind: "not-sent", message: "socket closed" } as PingOutcome, "undecided", "undecided"],
  ])("%o → strict %s, prosody_compat %s", (outcome, strict, compat) => {
    expect(classifySelfPing(outcome)).toBe(strict);
    expect(classifySelfPing(outcome, { prosodyCompat: true })).toBe(compat);
  });
});

describe("ghostReason", () => {
  it("uses the room's text, else Prosody's wording, else names the condition", () => {
    expect(ghostReason(err("not-acceptable", "You are not currently connected to this chat"))).toBe("You are not currently connected to this chat");
    expect(ghostReason({ kind: "timeout", timeoutMs: 1 }, { prosodyCompat: true })).toBe("IQ stanza timed out");
    expect(ghostReason(err("item-not-found"), { prosodyCompat: true })).toBe("Connection to remote server lost");
    expect(ghostReason(err("item-not-found"))).toBe("MUC self-ping answered item-not-found");
  });
});

describe("selfPing", () => {
  const requester = (answer: (iq: Element) => Promise<Element>) => {
    const sent: Element[] = [];
    const request = (iq: Element) => {
      sent.push(iq);
      return answer(iq);
    };
    return { sent, iq: { request } };
  };

  it("pings room/nick from the given JID and reports a result", async () => {
    const r = requester(async (iq) => iq);
    await expect(selfPing(r.iq, { room: "r@muc.example", nick: "desk", from: "gw.example", timeoutMs: 10 })).resolves.toEqual({ kind: "result" });
    expect(r.sent[0]!.attrs).toMatchObject({ type: "get", to: "r@muc.example/desk", from: "gw.example" });
    expect(r.sent[0]!.getChild("ping", NS_PING)).toBeDefined();
  });

  it("reports the error condition, text and by; a timeout; and a send failure", async () => {
    const e = new StanzaError("not-acceptable", "cancel", "You are not currently connected to this chat", undefined, "r@muc.example");
    await expect(selfPing(requester(() => Promise.reject(e)).iq, { room: "r@m", nick: "n", timeoutMs: 10 })).resolves.toEqual({
      kind: "error",
      condition: "not-acceptable",
      text: "You are not currently connected to this chat",
      by: "r@muc.example",
    });
    await expect(selfPing(requester(() => Promise.reject(new IqTimeoutError("r@m/n", 10))).iq, { room: "r@m", nick: "n", timeoutMs: 10 })).resolves.toEqual({
      kind: "timeout",
      timeoutMs: 10,
    });
    await expect(selfPing(requester(() => Promise.reject(new Error("socket closed"))).iq, { room: "r@m", nick: "n", timeoutMs: 10 })).resolves.toEqual({
      kind: "not-sent",
      message: "socket closed",
    });
  });
});
