import { NS_DISCO_INFO, silentLogger, xml, type Element } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { advertisedFeatures, createInfoReader } from "./info-reader.js";
import { EMBED_FEATURES, NS_RAA } from "./info.js";

/** An iq.get that answers disco#info with `features`, counting the requests. */
function discoIq(features: string[]) {
  const asked: string[] = [];
  const iq = {
    get: async (_query: Element, to: string) => {
      asked.push(to);
      return xml("query", NS_DISCO_INFO, ...features.map((f) => xml("feature", { var: f })));
    },
  };
  return { asked, iq: iq as never };
}

describe("reading <info/>", () => {
  it("a server's features are asked once, then reused until the TTL passes", async () => {
    const { asked, iq } = discoIq(["a"]);
    let now = 0;
    const advertised = advertisedFeatures(iq, 1000, () => now);
    expect([...(await advertised("s.example"))]).toEqual(["a"]);
    now = 999;
    await advertised("s.example");
    expect(asked).toEqual(["s.example"]);
    now = 1000;
    await advertised("s.example");
    expect(asked).toHaveLength(2);
  });

  it("believes <info/> only from a trusted server that advertises embedding that kind of stanza", async () => {
    const stanza = (from: string) => xml("message", { from, to: "a@gw" }, xml("info", { xmlns: NS_RAA, affiliation: "member" }));
    const read = (features: string[]) =>
      createInfoReader({ iq: discoIq(features).iq, log: silentLogger() }, { trusted: new Set(["trusted.example"]), now: () => 0 });
    expect(await read([EMBED_FEATURES.message])(stanza("bob@trusted.example"))).toMatchObject({
      affiliation: "member",
      server: "trusted.example",
      kind: "message",
    });
    expect(await read([])(stanza("bob@trusted.example"))).toBeUndefined();
    expect(await read([EMBED_FEATURES.message])(stanza("bob@other.example"))).toBeUndefined();
  });
});
