// Type-level test (checked by `tsc`, run by nothing): a real @xmpp/client 0.14 Client, as typed by
// @types/xmpp__client (what tsc suggests installing), and a real @xmpp/component 0.13 Component, as typed by
// the declarations core ships, both fit setupKit() and the handles built on it.
import { client } from "@xmpp/client";
import { component, xml as componentXml } from "@xmpp/component";
import { setupKit, xml, type Kit, type XmppEntity } from "../src/index.js";

const bot = client({ service: "xmpp://localhost:5222", domain: "localhost", username: "bot", password: "secret" });
const botKit: Kit = setupKit(bot);
const bridge = component({ service: "xmpp://127.0.0.1:5347", domain: "bridge.localhost", password: "secret" });
const bridgeKit: Kit = setupKit(bridge, { serverDomain: "localhost" });
const entities: XmppEntity[] = [bot, bridge];

// Elements from either package's xml() and from core's are one type.
await bot.send(xml("presence"));
await bridge.send(componentXml("presence", { to: "room@muc.localhost/gw" }));
bridge.on("online", (address) => void address.toString());
export { botKit, bridgeKit, entities };

// The testing package's mocks fit without a type argument.
import { mockClient, mockComponent } from "@xmppkit/testing";
const mockedKit: Kit = setupKit((await mockComponent()).entity);
const mockedBot: Kit = setupKit((await mockClient()).entity);
export { mockedKit, mockedBot };
