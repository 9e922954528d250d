import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loginClient } from "./clients.js";
import { assertProsodyInstalled, lua, PROSODY_INSTALL_HINT, startProsody } from "./prosody.js";

describe("lua()", () => {
  it("quotes and escapes strings for the config", () => {
    expect(lua('a"b\\c\nd')).toBe('"a\\"b\\\\c\\nd"');
  });
});

describe("assertProsodyInstalled", () => {
  it("says in one line which command installs Prosody when it is missing", () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      expect(() => assertProsodyInstalled()).toThrow(`prosody is not installed: ${PROSODY_INSTALL_HINT}`);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe("startProsody", () => {
  it("starts on free ports with users that can log in, survives a restart, and cleans up", async () => {
    const prosody = await startProsody({ users: { carol: "carolpw" }, component: false, muc: false });
    try {
      expect(prosody.c2s.port).toBeGreaterThan(0);
      expect(() => prosody.component).toThrow(/no external component/);
      expect(() => prosody.secret).toThrow(/no external component/);
      const carol = await loginClient(prosody, "carol");
      expect(carol.jid).toMatch(/^carol@localhost\/test$/);
      await carol.stop();
      const dave = await prosody.createUser("dave");
      expect(dave).toEqual({ username: "dave", jid: "dave@localhost", password: "davepw" });
      await prosody.restart();
      const again = await loginClient(prosody, "dave");
      await again.stop();
      expect(prosody.logTail()).toContain("dave@localhost");
    } finally {
      await prosody.stop();
    }
    expect(prosody.running).toBe(false);
    expect(existsSync(prosody.dir)).toBe(false);
  });

  it("writes privileges and delegations for each component", async () => {
    const prosody = await startProsody({
      users: {},
      component: {
        privileges: { roster: "get", message: "none", presence: "managed_entity", iq: { "urn:xmpp:ping": "get" } },
        delegations: ["urn:xmpp:raa:0"],
      },
      components: [{ domain: "other.localhost", privileges: false }],
    });
    try {
      const { readFileSync } = await import("node:fs");
      const cfg = readFileSync(prosody.configPath, "utf8");
      expect(cfg).toContain('["gateway.localhost"] = { roster = "get"; message = "none"; presence = "managed_entity"; iq = { ["urn:xmpp:ping"] = "get" } };');
      expect(cfg).toContain('["urn:xmpp:raa:0"] = { jid = "gateway.localhost" };');
      expect(cfg).not.toContain('["other.localhost"] = {');
      expect(prosody.components.map((c) => c.domain)).toEqual(["gateway.localhost", "other.localhost"]);
      expect(prosody.secret).toBe(prosody.component.secret);
    } finally {
      await prosody.stop();
    }
  });
});
