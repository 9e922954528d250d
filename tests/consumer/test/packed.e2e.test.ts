// The packages as users get them: every published package is packed (`pnpm pack`, as npm would download it)
// and installed with npm into empty projects.
//   - A bot's project (core + track-muc-joins + ping-muc + @xmpp/client): its size, and no server stack.
//   - A TypeScript user's project with everything: each entry imports from ESM and CommonJS, every README
//     `ts` block type-checks (strict, NodeNext, ESM), the runnable bot examples run against a test Prosody,
//     and the gateway from its tarball loads a third party's module by package name.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHttpBackend, startProsody, type HttpBackend, type Prosody } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error a plain .mjs script of the repository, without types
import { packAll, publishedPackages, serveTarballs } from "../../../scripts/pack-all.mjs";
import { readmeErrors, readmeSnippets } from "./readme-snippets.js";

const pack = packAll as (dest: string, names?: string[]) => Record<string, string>;
const serve = serveTarballs as (tarballs: Record<string, string>) => Promise<{ url: string; close(): Promise<void> }>;
const published = Object.keys((publishedPackages as () => Record<string, string>)());
/** The versions the repository tests with. */
const PEERS = ["@xmpp/client@0.14.0", "@xmpp/component@0.13.1"];
const TYPES = ["typescript@5.9.3", "@types/node@22.20.7", "@types/xmpp__client@0.14.1", "vitest@4.1.12"];

let work: string;
let tarballs: Record<string, string>;
let registry: { url: string; close(): Promise<void> };

/** Run a command without blocking this process, which serves what it talks to (the registry, a web app). */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ code: number | null; stdout: string; stderr: string; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, out: `${stdout}\n${stderr}` });
    });
  });
}

const npm = (dir: string, args: string[]) => run("npm", args, { cwd: dir });

/** npm install into a fresh project; @xmppkit/* come from the tarballs, served as a registry. */
async function npmInstall(dir: string, specs: string[]): Promise<{ out: string }> {
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, version: "1.0.0", type: "module" }));
  const r = await npm(dir, ["install", "--no-audit", "--no-fund", "--loglevel=warn", `--@xmppkit:registry=${registry.url}`, ...specs]);
  if (r.code !== 0) throw new Error(`npm install failed:\n${r.out}`);
  return r;
}

/** `name@version` of a workspace package, as published. */
function spec(name: string): string {
  const dir = (publishedPackages as () => Record<string, string>)()[name]!;
  return `${name}@${(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version}`;
}

function tar(name: string): string {
  const t = tarballs[name];
  if (!t) throw new Error(`no tarball for ${name}`);
  return t;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "xmppkit-consumer-"));
  mkdirSync(join(work, "tarballs"));
  tarballs = pack(join(work, "tarballs"));
  registry = await serve(tarballs);
}, 300_000);
afterAll(() => registry?.close());
// XMPPKIT_KEEP_CONSUMER=1 keeps the projects (and their compiled snippets in all/out) for a failing test.
afterAll(() => (process.env.XMPPKIT_KEEP_CONSUMER ? console.log(`kept ${work}`) : rmSync(work, { recursive: true, force: true })));

describe("the tarballs", () => {
  it("every published package's tarball has LICENSE, README, dist and the metadata npm shows", () => {
    for (const name of published) {
      const files = execFileSync("tar", ["-tzf", tar(name)], { encoding: "utf8" }).split("\n");
      expect(files, name).toEqual(expect.arrayContaining(["package/LICENSE", "package/README.md", "package/package.json"]));
      expect(
        files.some((f) => f.startsWith("package/dist/")),
        name,
      ).toBe(true);
      expect(
        files.filter((f) => /\.test\.|\/src\//.test(f)),
        name,
      ).toEqual([]);
      // Prosody's companion modules, for plugin_paths
      if (name === "@xmppkit/http-roster-admin") expect(files).toContain("package/prosody/mod_xmppkit_roster_batch/mod_xmppkit_roster_batch.lua");
      if (name === "@xmppkit/report-affiliations") expect(files).toContain("package/prosody/mod_xmppkit_account_info/mod_xmppkit_account_info.lua");
      if (name === "@xmppkit/report-forward") expect(files).toContain("package/prosody/mod_xmppkit_report_forward/mod_xmppkit_report_forward.lua");
      const pkg = JSON.parse(execFileSync("tar", ["-xzOf", tar(name), "package/package.json"], { encoding: "utf8" })) as Record<string, unknown>;
      expect(pkg, name).toMatchObject({
        license: "MIT",
        repository: { type: "git", directory: expect.any(String) },
        homepage: expect.stringContaining("github.com"),
        bugs: { url: expect.any(String) },
      });
      expect(JSON.stringify(pkg), `${name}: workspace: ranges left in the tarball`).not.toContain("workspace:");
      // Ranges in what users install; exact versions live in the lockfile.
      const deps = { ...(pkg.dependencies as Record<string, string>), ...(pkg.peerDependencies as Record<string, string>) };
      expect(
        Object.entries(deps).filter(([, range]) => /^=?v?\d+\.\d+\.\d+(-[\w.]+)?$/.test(range)),
        `${name}: exact pins`,
      ).toEqual([]);
    }
  });
});

describe("what is published says its facts", () => {
  // The team's working notes are not published: a README or a shipped file (source maps carry the sources'
  // comments) states the fact or links the XEP/RFC instead.
  const INTERNAL = /modules-spec|real-servers\.md|shared\/reference|xmppjs-notes|toolchain\.md|feature-template|\bissues? [0-9]+\b/i;
  it("no published file cites an internal note", () => {
    const found: string[] = [];
    for (const name of published) {
      const dir = mkdtempSync(join(work, "unpacked-"));
      execFileSync("tar", ["-xzf", tar(name), "-C", dir]);
      const grep = spawnSync("grep", ["-rnoiE", INTERNAL.source, join(dir, "package")], { encoding: "utf8" });
      found.push(
        ...grep.stdout
          .split("\n")
          .filter(Boolean)
          .map((l) => `${name}: ${l.slice(dir.length + 1)}`),
      );
    }
    expect(found).toEqual([]);
  });
});

describe("each feature ships once", () => {
  it("a package's ./gateway entry imports its feature: the setup function is defined in one file per format", () => {
    for (const name of published) {
      const files = execFileSync("tar", ["-tzf", tar(name)], { encoding: "utf8" }).split("\n");
      if (!files.includes("package/dist/gateway.js")) continue;
      const index = execFileSync("tar", ["-xzOf", tar(name), "package/dist/index.d.ts"], { encoding: "utf8" });
      const setups = [...new Set([...index.matchAll(/\bsetup[A-Z]\w+/g)].map((m) => m[0]))];
      expect(setups.length, name).toBeGreaterThan(0);
      for (const ext of [".js", ".cjs"]) {
        const code = files.filter((f) => f.startsWith("package/dist/") && f.endsWith(ext));
        for (const setup of setups) {
          const defining = code.filter((f) =>
            new RegExp(`(function|const|let)\\s+${setup}\\b`).test(execFileSync("tar", ["-xzOf", tar(name), f], { encoding: "utf8" })),
          );
          expect(defining, `${name}: ${setup} in ${ext}`).toHaveLength(1);
        }
      }
    }
  });
});

describe("a bot's project: core + track-muc-joins + ping-muc + @xmpp/client", () => {
  let dir: string;
  let install: { out: string };
  beforeAll(async () => {
    dir = join(work, "bot");
    mkdirSync(dir);
    install = await npmInstall(dir, [spec("@xmppkit/core"), spec("@xmppkit/track-muc-joins"), spec("@xmppkit/ping-muc"), "@xmpp/client@0.14.0"]);
  }, 300_000);

  it("installs at most 45 packages and 8 MB, with no engine warning", () => {
    const packages = execFileSync("npm", ["ls", "--all", "--parseable"], { cwd: dir, encoding: "utf8" }).trim().split("\n").length - 1;
    const bytes = Number(execFileSync("du", ["-sb", "node_modules"], { cwd: dir, encoding: "utf8" }).split("\t")[0]);
    expect(install.out).not.toMatch(/EBADENGINE/);
    expect(packages).toBeLessThanOrEqual(45);
    expect(bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it("has no HTTP server, database driver, logger, metrics or schema library", () => {
    const tree = execFileSync("npm", ["ls", "--all", "--parseable"], { cwd: dir, encoding: "utf8" });
    for (const pkg of ["fastify", "libsql", "pg", "pino", "prom-client", "zod", "@xmppkit/runtime"]) expect(tree).not.toContain(`/node_modules/${pkg}\n`);
  });

  it("runs: a client, its kit, rooms and self-pings, from ESM and CommonJS", () => {
    const use =
      "const kit = setupKit(client({ service: 'xmpp://127.0.0.1:1', domain: 'localhost', username: 'bot', password: 'x' }));\nconst ping = setupPingMuc({ ...kit, joins: setupMucJoins(kit) });\nconsole.log(typeof ping.check, classifySelfPing({ kind: 'error', condition: 'not-acceptable' }));";
    writeFileSync(
      join(dir, "bot.mjs"),
      `import { client } from "@xmpp/client";\nimport { setupKit } from "@xmppkit/core";\nimport { setupMucJoins } from "@xmppkit/track-muc-joins";\nimport { classifySelfPing, setupPingMuc } from "@xmppkit/ping-muc";\n${use}\n`,
    );
    writeFileSync(
      join(dir, "bot.cjs"),
      `const { client } = require("@xmpp/client");\nconst { setupKit } = require("@xmppkit/core");\nconst { setupMucJoins } = require("@xmppkit/track-muc-joins");\nconst { classifySelfPing, setupPingMuc } = require("@xmppkit/ping-muc");\n${use}\n`,
    );
    for (const file of ["bot.mjs", "bot.cjs"]) expect(execFileSync("node", [file], { cwd: dir, encoding: "utf8" }).trim()).toBe("function not-joined");
  });
});

describe("a TypeScript user's project with every package", () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(work, "all");
    mkdirSync(dir);
    await npmInstall(dir, [...published.map(spec), ...PEERS, ...TYPES]);
  }, 600_000);

  it("every package's entries import from ESM and require from CommonJS", () => {
    for (const name of published) {
      const pkg = JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")) as { exports: Record<string, unknown> };
      for (const entry of Object.keys(pkg.exports).filter((e) => e !== "./package.json")) {
        const spec = entry === "." ? name : `${name}/${entry.slice(2)}`;
        const esm = spawnSync(
          "node",
          ["--input-type=module", "-e", `const m = await import(${JSON.stringify(spec)}); if (!Object.keys(m).length) throw new Error("no exports");`],
          { cwd: dir, encoding: "utf8" },
        );
        expect(esm.stderr, `import ${spec}`).toBe("");
        const cjs = spawnSync("node", ["-e", `const m = require(${JSON.stringify(spec)}); if (!Object.keys(m).length) throw new Error("no exports");`], {
          cwd: dir,
          encoding: "utf8",
        });
        expect(cjs.stderr, `require ${spec}`).toBe("");
      }
    }
  });

  it("every README ts block type-checks against the tarballs (the strictest flags, NodeNext, ESM); a wrong one fails", () => {
    const snippets = readmeSnippets();
    expect(snippets.length).toBeGreaterThanOrEqual(15);
    mkdirSync(join(dir, "snippets"), { recursive: true });
    for (const s of snippets) writeFileSync(join(dir, "snippets", s.file), `${s.code}\nexport {};\n`);
    const tsconfig = {
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        lib: ["es2023"],
        types: ["node"],
        outDir: "out",
        rootDir: "snippets",
        skipLibCheck: true,
      },
      include: ["snippets/*.ts"],
    };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
    const tsc = spawnSync(join(dir, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: dir, encoding: "utf8" });
    expect(readmeErrors(tsc.stdout, snippets)).toEqual([]);
    expect(tsc.status).toBe(0);

    // Negative control: the check would see a wrong type.
    writeFileSync(join(dir, "wrong.ts"), `import { xml } from "@xmppkit/core";\nconst n: number = xml("iq").name;\nexport { n };\n`);
    const wrong = spawnSync(
      join(dir, "node_modules/.bin/tsc"),
      ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "wrong.ts"],
      { cwd: dir, encoding: "utf8" },
    );
    expect(wrong.stdout).toMatch(/wrong\.ts.*Type 'string' is not assignable to type 'number'/);
  });

  describe("the runnable bot examples, against a test Prosody", () => {
    let prosody: Prosody;
    let webApp: HttpBackend;
    beforeAll(async () => {
      prosody = await startProsody({ users: { bot: "botpw", alice: "alicepw" }, component: false, modules: ["blocklist"] });
      webApp = await startHttpBackend(() => ({ status: 200, body: { [`alice@${prosody.domain}`]: { name: "Alice", groups: ["Friends"] } } }));
    });
    afterAll(async () => {
      await webApp?.close();
      await prosody?.stop();
    });

    /** What each runnable example prints when it worked. */
    const EXPECT: Record<string, RegExp> = {
      "packages/core/README.md": /^\d+ contacts$/m,
      "packages/track-muc-joins/README.md": /^in dev@conference\.localhost as helper \(created it\)$/m,
      "packages/ping-muc/README.md": /^dev@conference\.localhost: joined$/m,
      "packages/report-forward/README.md": /^reported and blocked$/m,
      "packages/http-roster-admin/README.md": /^refresh: ok$/m,
    };

    it("each one connects, does its work, prints what it did and exits 0", async () => {
      const runnable = readmeSnippets().filter((s) => s.runnable);
      expect(runnable.map((s) => s.readme).sort()).toEqual(Object.keys(EXPECT).sort());
      const env = {
        PATH: process.env.PATH,
        XMPP_SERVICE: prosody.c2s.service,
        XMPP_DOMAIN: prosody.domain,
        XMPP_USER: "bot",
        XMPP_PASSWORD: "botpw",
        MUC_SERVICE: prosody.muc,
        CONTACTS_URL: `${webApp.url}/contacts/%s`,
      };
      for (const s of runnable) {
        const js = join(dir, "out", s.file.replace(/\.ts$/, ".js"));
        const bot = await run("node", [js], { cwd: dir, env, timeoutMs: 60_000 });
        expect({ readme: s.readme, code: bot.code, stderr: bot.stderr }, bot.stdout).toEqual({ readme: s.readme, code: 0, stderr: "" });
        expect(bot.stdout, s.readme).toMatch(EXPECT[s.readme]!);
      }
    });
  });

  it("the gateway from its tarball loads a third party's module by package name, with its command", async () => {
    const mod = join(work, "xmppkit-module-hello");
    mkdirSync(mod, { recursive: true });
    writeFileSync(
      join(mod, "package.json"),
      JSON.stringify({
        name: "xmppkit-module-hello",
        version: "1.0.0",
        type: "module",
        exports: { "./gateway": "./gateway.js" },
        peerDependencies: { "@xmppkit/core": "*", "@xmppkit/runtime": "*" },
      }),
    );
    writeFileSync(
      join(mod, "gateway.js"),
      `import { defineModule } from "@xmppkit/core";
import { moduleOptions, z } from "@xmppkit/runtime";
export const gatewayModule = defineModule({
  name: "hello",
  description: "says hello",
  options: moduleOptions(z.strictObject({ hello_to: z.string().default("world") })),
  setup: () => ({}),
  commands: { hello: { summary: "say hello", help: "hello --config <file>\\n", run: async (_args, ctx) => (ctx.stdout(\`hello \${ctx.options?.hello_to}\\n\`), 0) } },
});
`,
    );
    // As a user gets it: a tarball from the registry, not a link to a directory.
    const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: mod, encoding: "utf8" }).trim();
    const added = await npm(dir, ["install", "--no-audit", "--no-fund", "--loglevel=error", `--@xmppkit:registry=${registry.url}`, join(work, packed)]);
    expect(added.code, added.out).toBe(0);
    writeFileSync(
      join(dir, "gateway.yaml"),
      "component:\n  service: xmpp://127.0.0.1:5347\n  domain: gw.localhost\n  secret: s\nserver_domain: localhost\nmodules_enabled: [track-muc-joins, xmppkit-module-hello]\nxmppkit-module-hello:\n  hello_to: operators\ntrack-muc-joins:\n  rooms:\n    - room: mods@conference.localhost\n      nick: desk\n",
    );
    const bin = join(dir, "node_modules/.bin/xmppkit-gateway");
    const check = spawnSync(bin, ["--config", "gateway.yaml", "--check-config"], { cwd: dir, encoding: "utf8" });
    expect([check.status, check.stderr, check.stdout.trim()]).toEqual([0, "", "gateway.yaml: ok (2 module(s): track-muc-joins, xmppkit-module-hello)"]);
    const hello = spawnSync(bin, ["hello", "--config", "gateway.yaml"], { cwd: dir, encoding: "utf8" });
    expect([hello.status, hello.stdout]).toEqual([0, "hello operators\n"]);
  });
});
