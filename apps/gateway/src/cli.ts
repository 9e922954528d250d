#!/usr/bin/env node
// xmppkit-gateway's entry. A signal is caught from the very first moment: loading the gateway's modules
// takes a while, and a SIGTERM (or SIGHUP) in that window must end the process cleanly (exit 0), not kill it.
// The body is in main.ts, a separate chunk loaded after the handlers are in place.
import { enableCompileCache } from "node:module";

let early: string | undefined;
let loaded = false;
const onEarly = (signal: string) => {
  // Once main.js runs, a path that took no signal of its own (a command, --check-config) ends as a signal would.
  if (loaded && process.listenerCount(signal) === 1) process.exit(signal === "SIGINT" ? 130 : signal === "SIGHUP" ? 129 : 143);
  early ??= signal;
};
process.on("SIGTERM", onEarly);
process.on("SIGINT", onEarly);
process.on("SIGHUP", onEarly); // SIGHUP stops the gateway cleanly too (main.ts)

// Node's on-disk compile cache (V8's code cache of every module loaded from here on: the gateway, its modules,
// zod, pino…): a start with a warm cache compiles less (~40 ms of the gateway's). NODE_COMPILE_CACHE names the
// directory (the systemd unit sets it to its CacheDirectory=), else it is node-compile-cache in the temp
// directory. It can never stop the gateway: a directory that cannot be made or written means no cache (the call
// returns a status, it does not throw; the try is for a Node that would), and an entry that does not match its
// source is recompiled. What is compiled is written once the gateway is up (main.ts), and at exit.
try {
  enableCompileCache();
} catch {
  // no cache
}

// The early listeners stay: removing a signal's last listener stops Node's watcher for it, and a signal that
// came while the module graph was loading (Node 24 blocks the main thread for loader hooks) is then dispatched
// after this callback, to no one. main() adds its own listeners before it awaits anything.
void import("./main.js").then(({ run }) => {
  loaded = true;
  run(process.argv.slice(2), early);
});
