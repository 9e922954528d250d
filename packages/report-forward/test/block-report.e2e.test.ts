// End-to-end: a bot files a report the standard way (XEP-0191 block + XEP-0377 report) with the builder,
// against a real Prosody: the server accepts the block with the report attached, and the JID is blocked.
import { setupKit, xml, type XmppEntity } from "@xmppkit/core";
import { loginClient, startProsody, type Prosody, type TestClient, suiteServers } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NS_BLOCKING, fileReport } from "../src/index.js";

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("fileReport against a real Prosody (mod_blocklist)", () => {
    let prosody: Prosody;
    let alice: TestClient;

    beforeAll(async () => {
      prosody = await startProsody({ root, component: false, muc: false, modules: ["blocklist"] });
      alice = await loginClient(prosody, "alice");
    });
    afterAll(async () => {
      await alice?.stop();
      await prosody?.stop();
    });

    it("blocks and reports in one IQ; the server's blocklist then has the JID", async () => {
      const kit = setupKit(alice.xmpp as unknown as XmppEntity, { ping: { interval: 0 } });
      await fileReport(kit, {
        jid: "spammer@bad.example",
        reason: "spam",
        text: "cheap pills",
        lang: "en",
        stanzaIds: [{ by: "spammer@bad.example", id: "abc" }],
        reportOrigin: true,
        thirdParty: true,
      });
      const list = await alice.request(xml("iq", { type: "get" }, xml("blocklist", NS_BLOCKING)));
      expect(
        list
          .getChild("blocklist", NS_BLOCKING)!
          .getChildren("item")
          .map((i) => i.attrs.jid),
      ).toEqual(["spammer@bad.example"]);
    });
  });
});
