// The anchor of bench/stanza-path: a bare @xmpp/component (0.13, as the gateway uses) in its own process,
// answering disco#info and XEP-0199 pings the way a hand-written component does: one iqCallee handler each,
// the reply built with xml() per request. Nothing else: no hooks, no metrics, no modules.
//
//   node stanza-anchor.mjs <service> <domain> <secret> [<disco#info as JSON: { identities, features }>]
//
// Prints "online" on stdout once connected; SIGTERM stops it.
import { component, xml } from "@xmpp/component";

const [service, domain, password, infoJson] = process.argv.slice(2);
const info = JSON.parse(infoJson ?? '{"identities":[{"category":"component","type":"generic"}],"features":[]}');
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_PING = "urn:xmpp:ping";

const xmpp = component({ service, domain, password });
xmpp.on("error", (err) => console.error("stanza anchor:", err.message));
xmpp.iqCallee.get(NS_DISCO_INFO, "query", () =>
  xml("query", NS_DISCO_INFO, ...info.identities.map((i) => xml("identity", i)), ...info.features.map((f) => xml("feature", { var: f }))),
);
xmpp.iqCallee.get(NS_PING, "ping", () => true);
xmpp.on("online", () => console.log("online"));
process.on("SIGTERM", async () => {
  await xmpp.stop().catch(() => undefined);
  process.exit(0);
});
await xmpp.start();
