// Preloaded (NODE_OPTIONS="--require …/cpu-profile.cjs", where --cpu-prof is not allowed) by bench/stanza-path
// --profile: profiles the whole life of the process through node:inspector, and writes
// <script>-<pid>.cpuprofile (for Chrome DevTools or speedscope) into $XMPPKIT_CPU_PROFILE_DIR when it exits.
const { Session } = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { basename, join } = require("node:path");

const dir = process.env.XMPPKIT_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 200 });
  session.post("Profiler.start");
  process.on("exit", () => {
    // Same-thread sessions answer synchronously, so this works in an exit handler.
    session.post("Profiler.stop", (err, result) => {
      const name = basename(process.argv[1] ?? "node").replace(/\.[cm]?js$/, "");
      if (!err) writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
