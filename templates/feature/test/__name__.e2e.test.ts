// End to end against real servers: a bot on each suite server's Prosody answers a version query from another user.
import { client } from "@xmpp/client";
import { setupKit, xml, type XmppEntity } from "@xmppkit/core";
import { startProsody, type Prosody } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NS_VERSION, setup__Name__ } from "../src/index.js";

describe("setup__Name__ against Prosody", () => {
  let prosody: Prosody;
  beforeAll(async () => {
    prosody = await startProsody({ users: { bot: "botpw", alice: "alicepw" }, component: false });
  });
  afterAll(() => prosody?.stop());

  it("answers alice's version query", async () => {
    const bot = setupKit(
      client({ service: prosody.c2s.service, domain: prosody.domain, username: "bot", password: "botpw", resource: "r" }) as unknown as XmppEntity,
    );
    setup__Name__(bot, { name: "template-bot" });
    await bot.lifecycle.start();
    const alice = setupKit(client({ service: prosody.c2s.service, domain: prosody.domain, username: "alice", password: "alicepw" }) as unknown as XmppEntity);
    await alice.lifecycle.start();
    try {
      const answer = await alice.iq.get(xml("query", NS_VERSION), `bot@${prosody.domain}/r`);
      expect(answer?.getChildText("name")).toBe("template-bot");
    } finally {
      await alice.lifecycle.stop();
      await bot.lifecycle.stop();
    }
  });
});
