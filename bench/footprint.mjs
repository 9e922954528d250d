// bench/footprint: what a bot pays for xmppkit, measured against @xmpp/client alone in the same run.
//
//   pnpm --filter @xmppkit/bench footprint [--runs 15]
//
// Packs the workspace's packages (as npm would download them), serves them as the @xmppkit registry, and
// npm-installs two fresh projects: @xmpp/client alone (the anchor), and a bot's core + track-muc-joins +
// ping-muc + @xmpp/client. Reports packages and bytes installed, npm's engine warnings, and the cost of
// importing them: time from before the first import to after the last, and RSS after, each the median of
// --runs fresh Node processes, run alternately, as ratios against the anchor.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { packAll, serveTarballs } from "../scripts/pack-all.mjs";

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "15" } } });
const RUNS = Number(args.runs);
const BOT = ["@xmppkit/core", "@xmppkit/track-muc-joins", "@xmppkit/ping-muc"];

function run(command, argv, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${argv.join(" ")} failed:\n${out}`))));
  });
}

async function project(dir, specs, registry) {
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "footprint", private: true, version: "1.0.0", type: "module" }));
  const out = await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=warn", `--@xmppkit:registry=${registry}`, ...specs], dir);
  const packages = execFileSync("npm", ["ls", "--all", "--parseable"], { cwd: dir, encoding: "utf8" }).trim().split("\n").length - 1;
  const bytes = Number(execFileSync("du", ["-sb", "node_modules"], { cwd: dir, encoding: "utf8" }).split("\t")[0]);
  return { packages, bytes, engineWarnings: (out.match(/EBADENGINE/g) ?? []).length };
}

/** A script that imports `names` and prints the time it took and the RSS after. */
function importScript(dir, file, names) {
  const imports = names.map((n) => `await import(${JSON.stringify(n)});`).join("\n");
  writeFileSync(
    join(dir, file),
    `const t0 = performance.now();\n${imports}\nconst ms = performance.now() - t0;\nconsole.log(JSON.stringify({ ms, rss: process.memoryUsage().rss }));\n`,
  );
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const work = mkdtempSync(join(tmpdir(), "xmppkit-footprint-"));
try {
  mkdirSync(join(work, "tarballs"));
  const tarballs = packAll(join(work, "tarballs"));
  const registry = await serveTarballs(tarballs);
  const version = (name) => JSON.parse(execFileSync("tar", ["-xzOf", tarballs[name], "package/package.json"], { encoding: "utf8" })).version;
  let anchor;
  let bot;
  try {
    anchor = await project(join(work, "client"), ["@xmpp/client@0.14.0"], registry.url);
    bot = await project(join(work, "bot"), [...BOT.map((n) => `${n}@${version(n)}`), "@xmpp/client@0.14.0"], registry.url);
  } finally {
    await registry.close();
  }

  const dir = join(work, "bot");
  importScript(dir, "anchor.mjs", ["@xmpp/client"]);
  importScript(dir, "bot.mjs", ["@xmpp/client", ...BOT]);
  const samples = { anchor: [], bot: [] };
  for (let i = 0; i < RUNS + 2; i++) {
    for (const which of ["anchor", "bot"]) {
      const r = JSON.parse(await run("node", [`${which}.mjs`], dir));
      if (i >= 2) samples[which].push(r); // two warm-up rounds (disk cache)
    }
  }
  const ms = { anchor: median(samples.anchor.map((s) => s.ms)), bot: median(samples.bot.map((s) => s.ms)) };
  const rss = { anchor: median(samples.anchor.map((s) => s.rss)), bot: median(samples.bot.map((s) => s.rss)) };
  const MB = (b) => (b / 1024 / 1024).toFixed(1);
  const result = {
    node: process.version,
    runs: RUNS,
    anchor: { packages: anchor.packages, bytes: anchor.bytes, importMs: Math.round(ms.anchor), rssBytes: rss.anchor },
    bot: { packages: bot.packages, bytes: bot.bytes, engineWarnings: bot.engineWarnings, importMs: Math.round(ms.bot), rssBytes: rss.bot },
    importTimeRatio: Number((ms.bot / ms.anchor).toFixed(2)),
    rssDeltaMiB: Number(((rss.bot - rss.anchor) / 1024 / 1024).toFixed(1)),
  };
  console.log(`
| project | packages | installed | engine warnings | import (median of ${RUNS}) | RSS after import |
|---|---|---|---|---|---|
| @xmpp/client alone (anchor) | ${anchor.packages} | ${MB(anchor.bytes)} MB | ${anchor.engineWarnings} | ${ms.anchor.toFixed(0)} ms | ${MB(rss.anchor)} MiB |
| + core, track-muc-joins, ping-muc | ${bot.packages} | ${MB(bot.bytes)} MB | ${bot.engineWarnings} | ${ms.bot.toFixed(0)} ms (${result.importTimeRatio}×) | ${MB(rss.bot)} MiB (+${result.rssDeltaMiB} MiB) |
`);
  console.log(JSON.stringify(result));
} finally {
  rmSync(work, { recursive: true, force: true });
}
