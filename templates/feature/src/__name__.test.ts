import { setupKit, xml, type XmppEntity } from "@xmppkit/core";
import { mockComponent } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { __Name__Error } from "./errors.js";
import { NS_VERSION, setup__Name__ } from "./__name__.js";

describe("setup__Name__", () => {
  it("answers a version query with the configured name and tells its listeners", async () => {
    const mock = await mockComponent<XmppEntity>();
    const kit = setupKit(mock.entity, { serverDomain: "localhost" });
    const handle = setup__Name__(kit, { name: "bot", version: "1.2" });
    const seen: string[] = [];
    handle.on("answered", ({ from }) => seen.push(from));
    await mock.receive(xml("iq", { type: "get", id: "v1", from: "alice@localhost/a", to: mock.entity.jid!.toString() }, xml("query", NS_VERSION)));
    const reply = mock.sent.find((s) => s.attrs.id === "v1")!;
    expect(reply.attrs.type).toBe("result");
    expect(reply.getChild("query", NS_VERSION)?.getChildText("name")).toBe("bot");
    expect(seen).toEqual(["alice@localhost/a"]);
  });

  it("refuses an empty name where it enters", async () => {
    const mock = await mockComponent<XmppEntity>();
    expect(() => setup__Name__(setupKit(mock.entity), { name: " " })).toThrow(__Name__Error);
  });
});
