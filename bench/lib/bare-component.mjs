// The anchor of bench/startup: the least a component with a health check can be. A bare `@xmpp/component`
// and a `node:http` server answering GET /healthz 200 once the component is online (503 before).
//
//   node bare-component.mjs <service> <domain> <secret> <http port>
//
// SIGTERM closes both and exits 0.
// (Reconstructed by the stanza-path session after it overwrote the original by mistake: check it.)
import { createServer } from "node:http";
import { component } from "@xmpp/component";

const [service, domain, password, port] = process.argv.slice(2);
let online = false;
const xmpp = component({ service, domain, password });
xmpp.on("error", () => undefined);
xmpp.on("online", () => {
  online = true;
});
xmpp.on("offline", () => {
  online = false;
});

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(online ? 200 : 503, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: online ? "ok" : "unavailable" }));
    return;
  }
  res.writeHead(404);
  res.end();
});
server.listen(Number(port), "127.0.0.1");

process.on("SIGTERM", async () => {
  server.close();
  await xmpp.stop().catch(() => undefined);
  process.exit(0);
});
await xmpp.start();
