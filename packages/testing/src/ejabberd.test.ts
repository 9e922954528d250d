import { existsSync } from "node:fs";
import type { Element } from "@xmpp/xml";
import { describe, expect, it } from "vitest";
import { closeClient, loginClient } from "./clients.js";
import { startEjabberd } from "./ejabberd.js";
import { waitFor } from "./wait.js";
import { importPeer } from "./mock-entity.js";

describe("startEjabberd", () => {
  it("starts on free loopback ports with users, a privileged component and the admin API; restarts; cleans up", async () => {
    const ej = await startEjabberd({ users: { carol: "carolpw" }, component: { delegations: ["urn:xmpp:raa:0"] } });
    try {
      expect(ej.kind).toBe("ejabberd");
      const carol = await loginClient(ej, "carol");
      expect(carol.jid).toBe("carol@localhost/test");
      await carol.stop();
      expect(await ej.command("check_account", { user: "carol", host: "localhost" })).toBe(0);

      const { component } = (await importPeer("@xmpp/component")) as unknown as {
        component(o: object): { start(): Promise<unknown>; stop(): Promise<unknown>; on(e: string, f: (el: Element) => void): void };
      };
      const gw = component({ service: ej.component.service, domain: ej.component.domain, password: ej.secret });
      const seen: Element[] = [];
      gw.on("stanza", (el) => void seen.push(el));
      gw.on("error", () => undefined);
      await gw.start();
      await waitFor(() => seen.find((m) => m.getChild("privilege", "urn:xmpp:privilege:1")), "the privilege announcement");
      const privilege = seen.find((m) => m.getChild("privilege", "urn:xmpp:privilege:1"));
      expect(privilege?.attrs.from).toBe("localhost");
      expect(
        privilege!
          .getChild("privilege")!
          .getChildren("perm")
          .map((p) => `${p.attrs.access}=${p.attrs.type}`)
          .sort(),
      ).toEqual(["message=outgoing", "presence=roster", "roster=both"]);
      await closeClient(gw);

      await ej.createUser("dave");
      await ej.restart();
      const dave = await loginClient(ej, "dave");
      await dave.stop();
      // ejabberd writes its log asynchronously: the login's line may come a moment after the login.
      await waitFor(() => ej.logTail(400).includes("dave@localhost"), "dave's login in ejabberd's log");
      expect(ej.logTail(400)).toContain("dave@localhost");
    } finally {
      await ej.stop();
    }
    expect(ej.running).toBe(false);
    expect(existsSync(ej.dir)).toBe(false);
  }, 60_000);
});
