// End-to-end: a bot on @xmpp/client keeps its own roster in line with a web app, against a real Prosody.
import { client } from "@xmpp/client";
import { setupKit, xml, type Kit, type XmppEntity } from "@xmppkit/core";
import { closeClient, loginClient, startHttpBackend, startProsody, type HttpBackend, type Prosody, type TestClient, suiteServers } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownRoster } from "../src/roster-access.js";
import { setupRosterAdmin, type RosterAdmin, type SyncResult } from "../src/roster-admin.js";

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("a bot syncing its own roster (real Prosody)", () => {
    let prosody: Prosody;
    let webApp: HttpBackend;
    let alice: TestClient;
    let kit: Kit;
    let xmpp: XmppEntity | undefined;
    let admin: RosterAdmin;
    let firstSync: Promise<SyncResult>;
    let contacts: Record<string, unknown> = { "alice@localhost": { name: "Alice", groups: ["Team"] } };

    beforeAll(async () => {
      prosody = await startProsody({ root, component: false, muc: false });
      webApp = await startHttpBackend(() => ({ body: contacts }));
      alice = await loginClient(prosody, "alice");
      xmpp = client({
        service: prosody.c2s.service,
        domain: prosody.domain,
        username: "bob",
        password: "bobpw",
        resource: "bot",
      }) as unknown as XmppEntity;
      kit = setupKit(xmpp);
      admin = setupRosterAdmin(
        { roster: ownRoster({ entity: xmpp, iq: kit.iq, stanzas: kit.stanzas }), lifecycle: kit.lifecycle },
        { url: `${webApp.url}/bots/%s/contacts`, retries: 0 },
      );
      firstSync = admin.next("synced", 10_000);
      await kit.lifecycle.start();
    });

    afterAll(async () => {
      await admin?.stop();
      await closeClient(xmpp, () => kit.lifecycle.stop()); // kit's stop, then no late data on a dropped parser
      await alice?.stop();
      await prosody?.stop();
      await webApp?.close();
    });

    const botRoster = async () =>
      (await kit.iq.get(xml("query", "jabber:iq:roster")))!.getChildren("item").map((i) => ({
        jid: i.attrs.jid,
        name: i.attrs.name,
        groups: i.getChildren("group").map((g) => g.getText()),
      }));

    it("syncs on connect: the contact is in the roster with name and group, and gets a subscription request", async () => {
      expect(await firstSync).toMatchObject({ user: "bob", trigger: "login", added: 1 });
      expect(webApp.requests[0]!.url).toBe("/bots/bob/contacts");
      expect(await botRoster()).toEqual([{ jid: "alice@localhost", name: "Alice", groups: ["Team"] }]);
      const subscribe = await alice.next((el) => el.is("presence") && el.attrs.type === "subscribe");
      expect(subscribe.attrs.from).toBe("bob@localhost");
    });

    it("renames and removes on the next sync; an unchanged roster sends no roster set; pushes are answered", async () => {
      contacts = { "carol@localhost": { name: "Carol" } };
      expect(await admin.sync("bob")).toMatchObject({ added: 1, removed: 1 });
      expect(await botRoster()).toEqual([{ jid: "carol@localhost", name: "Carol", groups: [] }]);
      const sent: string[] = [];
      kit.stanzas.onOutgoing((s) => void (s.name === "iq" && sent.push(s.attrs.type)));
      expect(await admin.sync("bob")).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: 1 });
      expect(sent.filter((type) => type === "set")).toEqual([]);
      // The pushes of the previous sync may arrive meanwhile: they are answered with results, not errors.
      expect(sent).not.toContain("error");
    });
  });
});
