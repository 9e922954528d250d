#!/usr/bin/env node
// xmppkit-gateway's entry. A signal is caught from the very first moment: loading the gateway's modules
// takes a while, and a SIGTERM in that window must end the process cleanly (exit 0), not kill it (143).
// The body is in main.ts, a separate chunk loaded after the handlers are in place.
let early: string | undefined;
const onEarly = (signal: string) => {
  early ??= signal;
};
process.on("SIGTERM", onEarly);
process.on("SIGINT", onEarly);

void import("./main.js").then(({ run }) => {
  process.off("SIGTERM", onEarly);
  process.off("SIGINT", onEarly);
  run(process.argv.slice(2), early);
});
