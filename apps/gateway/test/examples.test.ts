// The shipped examples (examples/, the Dockerfile) checked against the gateway itself: every gateway.yaml an
// operator can make from them by uncommenting passes the built bin's `--check-config`, the server-side examples
// agree with gateway.yaml, and the Dockerfile and the systemd unit agree with the package (its Node range, the
// modules it brings, a user that exists); `systemd-analyze verify` reads the unit where it is installed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import { CORE_SECTIONS } from "../src/config.js";
import { BIN, runCli } from "./helpers.js";

const APP = resolve(import.meta.dirname, "..");
const EXAMPLES = join(APP, "examples");
const example = (name: string) => readFileSync(join(EXAMPLES, name), "utf8");
const pkg = JSON.parse(readFileSync(join(APP, "package.json"), "utf8")) as {
  bin: Record<string, string>;
  engines: { node: string };
  dependencies: Record<string, string>;
};
/** The xmppkit modules the gateway depends on, so `npm i -g @xmppkit/gateway` installs them. */
const MODULES = Object.keys(pkg.dependencies)
  .filter((d) => d.startsWith("@xmppkit/") && !["@xmppkit/core", "@xmppkit/runtime"].includes(d))
  .map((d) => d.slice("@xmppkit/".length));

const dir = mkdtempSync(join(tmpdir(), "xmppkit-examples-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A YAML key at the start of a line: `modules_enabled:`, `http-roster-admin:`, `rooms:` (not a sentence like "The abuse desk:"). */
const KEY = /^[a-z_][a-z0-9_-]*:(\s|$)/;

/**
 * A commented-out alternative in a YAML example ("block"): a maximal run of consecutive lines that start with
 * the same `<indent># ` where, with that prefix removed, the first line is a key and every other line is a key
 * too or indented (a line of the value above; a `# ` comment inside stays a comment, and is a nested block once
 * its block is uncommented). A prose comment, a bare `#`, a blank or an uncommented line ends it.
 */
interface Block {
  start: number;
  end: number;
  prefix: string;
}

function blocksIn(lines: string[], from = 0, to = lines.length, prefixRe = /^(\s*)# /): Block[] {
  const found: Block[] = [];
  const rest = (line: string, prefix: string) => line.slice(prefix.length);
  for (let i = from; i < to; ) {
    const prefix = prefixRe.exec(lines[i]!)?.[0];
    if (!prefix || !KEY.test(rest(lines[i]!, prefix))) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < to && lines[j]!.startsWith(prefix) && (KEY.test(rest(lines[j]!, prefix)) || /^\s/.test(rest(lines[j]!, prefix)))) j++;
    found.push({ start: i, end: j, prefix });
    i = j;
  }
  return found;
}

/** The block's lines without the comment marker, dedented to column 0. */
function blockText(lines: string[], b: Block): string {
  return lines
    .slice(b.start, b.end)
    .map((l) => l.slice(b.prefix.length))
    .join("\n");
}

/**
 * The file with `b` uncommented (same line numbers). A block at column 0 replaces the uncommented top-level keys
 * it sets: `modules_enabled: [http-roster-admin]` takes the place of `modules_enabled: []`.
 */
function uncomment(lines: string[], b: Block): string[] {
  const indent = b.prefix.slice(0, -2);
  const out = lines.map((l, i) => (i >= b.start && i < b.end ? indent + l.slice(b.prefix.length) : l));
  if (indent) return out;
  const keys = new Set(
    out
      .slice(b.start, b.end)
      .filter((l) => KEY.test(l))
      .map((l) => l.split(":")[0]),
  );
  for (let i = 0; i < out.length; i++) {
    if (i >= b.start && i < b.end) continue;
    if (!keys.has(out[i]!.split(":")[0]!) || !KEY.test(out[i]!)) continue;
    out[i] = "";
    for (let j = i + 1; j < out.length && /^\s/.test(out[j]!); j++) out[j] = "";
  }
  return out;
}

interface Variant {
  name: string;
  text: string;
}

/** The file as shipped, then each block uncommented in turn, and each block nested in it uncommented with it. */
function variants(text: string): Variant[] {
  const all: Variant[] = [{ name: "as shipped", text }];
  const walk = (lines: string[], from: number, to: number, parents: string) => {
    for (const b of blocksIn(lines, from, to)) {
      const keys = blockText(lines, b)
        .split("\n")
        .filter((l) => KEY.test(l))
        .map((l, i) => (i === 0 ? l.replace(/\s+#.*/, "").replace(/:$/, "") : l.split(":")[0]));
      const name = `${parents}lines ${b.start + 1}-${b.end} (${keys.join("; ")})`;
      // Uncommented, a block is YAML: a mapping, not a sentence that happens to start like a key.
      const parsed: unknown = parse(blockText(lines, b));
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`${name}: not a YAML mapping when uncommented`);
      const next = uncomment(lines, b);
      all.push({ name, text: next.join("\n") });
      walk(next, b.start, b.end, `${name} + `);
    }
  };
  walk(text.split("\n"), 0, text.split("\n").length, "");
  return all;
}

/** A value for every environment variable the text uses (`${NAME}`, `${NAME:-default}`): 32 characters, a valid token. */
function envFor(text: string): Record<string, string> {
  const names = [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g)].map((m) => m[1]!);
  return Object.fromEntries(names.map((n) => [n, `example-${n.toLowerCase()}-0123456789abcdef`.slice(0, 32).padEnd(32, "x")]));
}

async function checkConfig(text: string): Promise<{ code: number | null; out: string }> {
  const path = join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  const r = await runCli(["--config", path, "--check-config"], envFor(text));
  return { code: r.code, out: `${r.stdout}${r.stderr}\n--- ${path}:\n${text}` };
}

const modulesOf = (text: string): string[] => (parse(text) as { modules_enabled?: string[] }).modules_enabled ?? [];

describe("examples/gateway.yaml: as shipped, and with each commented-out block uncommented in turn", () => {
  const all = variants(example("gateway.yaml"));

  it("has an example block for every module the gateway installs, and for storage.postgres and ha", () => {
    expect(existsSync(BIN), "build the gateway first (pnpm build)").toBe(true);
    expect(new Set(all.flatMap((v) => modulesOf(v.text)))).toEqual(new Set(MODULES));
    expect(all.some((v) => (parse(v.text) as { ha?: { enabled?: boolean } }).ha?.enabled)).toBe(true);
    expect(all.some((v) => (parse(v.text) as { storage?: { postgres?: string } }).storage?.postgres)).toBe(true);
  });

  for (const { name, text } of all) {
    it(`${name}: passes --check-config`, async () => {
      const { code, out } = await checkConfig(text);
      expect(code, out).toBe(0);
      expect(out).toMatch(/: ok \(\d+ module\(s\)/);
    });
  }
});

/** gateway.yaml fragments quoted in another example's comments: `#   key:` (two more spaces) at the start of a run. */
function quotedFragments(text: string, marker: string): { name: string; value: Record<string, Record<string, unknown>> }[] {
  const lines = text.split("\n");
  const prefixRe = new RegExp(`^${marker} {3}`);
  return blocksIn(lines, 0, lines.length, prefixRe).map((b) => ({
    name: `${lines[b.start]!.trim()} (line ${b.start + 1})`,
    value: parse(blockText(lines, b)) as Record<string, Record<string, unknown>>,
  }));
}

describe("examples/ejabberd-gateway.yml", () => {
  const text = example("ejabberd-gateway.yml");
  const ejabberd = parse(text) as {
    listen: { port: number; module: string; max_stanza_size?: number; hosts?: Record<string, unknown> }[];
    acl: { xmppkit_gateway: { server: string } };
    modules: { mod_delegation: { namespaces: Record<string, unknown> } };
  };
  const gateway = parse(example("gateway.yaml")) as { component: { service: string; domain: string; stanza_size_limit: number } };

  it("is YAML, and its listener is the one gateway.yaml connects to, for the same domain and stanza size", () => {
    const service = ejabberd.listen.find((l) => l.module === "ejabberd_service")!;
    expect(`xmpp://127.0.0.1:${service.port}`).toBe(gateway.component.service);
    expect(Object.keys(service.hosts ?? {})).toEqual([gateway.component.domain]);
    expect(service.max_stanza_size).toBe(gateway.component.stanza_size_limit);
    expect(ejabberd.acl.xmppkit_gateway.server).toBe(gateway.component.domain);
    expect(Object.keys(ejabberd.modules.mod_delegation.namespaces)).toContain("urn:xmpp:raa:0");
  });

  const fragments = quotedFragments(text, "#");
  it("quotes gateway.yaml fragments (http-roster-admin's ejabberd_api, report-forward's staff rooms)", () => {
    expect(fragments.flatMap((f) => Object.keys(f.value)).sort()).toEqual(["http-roster-admin", "report-forward"]);
  });

  // Each fragment goes into gateway.yaml's block that enables its modules, its options merged into theirs.
  for (const { name, value } of fragments) {
    it(`${name}, merged into gateway.yaml's block for it, passes --check-config`, async () => {
      const modules = Object.keys(value).filter((k) => !(CORE_SECTIONS as readonly string[]).includes(k));
      const base = variants(example("gateway.yaml")).find((v) => modules.every((m) => modulesOf(v.text).includes(m)));
      expect(base, `no block of gateway.yaml enables ${modules.join(", ")}`).toBeDefined();
      const doc = parseDocument(base!.text);
      for (const [section, options] of Object.entries(value)) for (const [k, v] of Object.entries(options)) doc.setIn([section, k], v);
      const { code, out } = await checkConfig(doc.toString());
      expect(code, out).toBe(0);
    });
  }
});

describe("examples/prosody-gateway.cfg.lua", () => {
  const text = example("prosody-gateway.cfg.lua");
  const gateway = parse(example("gateway.yaml")) as { component: { domain: string }; server_domain: string };

  it("names gateway.yaml's domains, delegates urn:xmpp:raa:0 to the component, and points plugin_paths at folders the packages ship", () => {
    expect([...text.matchAll(/^Component "([^"]+)"/gm)].map((m) => m[1])).toEqual([gateway.component.domain]);
    expect([...text.matchAll(/^VirtualHost "([^"]+)"/gm)].map((m) => m[1])).toEqual([gateway.server_domain]);
    expect(text).toContain(`["urn:xmpp:raa:0"] = { jid = "${gateway.component.domain}" }`);
    expect(text).toContain(`["${gateway.component.domain}"] = {`);
    // plugin_paths belongs to the global section, before the first VirtualHost or Component.
    const firstHost = text.search(/^(VirtualHost|Component) /m);
    for (const m of text.matchAll(/^\s*(?:-- )?plugin_paths =/gm)) expect(m.index, "plugin_paths in the global section").toBeLessThan(firstHost);
    const folders = [...text.matchAll(/node_modules\/@xmppkit\/gateway\/node_modules\/@xmppkit\/([a-z-]+)\/([a-z-]+)"/g)];
    expect(folders.length).toBeGreaterThan(0);
    for (const [, name, folder] of folders) {
      expect(MODULES).toContain(name);
      const shipped = JSON.parse(readFileSync(join(APP, "../../packages", name!, "package.json"), "utf8")) as { files: string[] };
      expect(shipped.files).toContain(folder);
      expect(existsSync(join(APP, "../../packages", name!, folder!))).toBe(true);
    }
  });

  // Debian's lua5.4 (Prosody's own Lua; scripts/setup.sh installs it): a missing luac fails the test, it is not skipped.
  const luac = "luac5.4";
  // Each `-- name = …` / `-- ["…"] = …` line is an alternative: uncommented, the file must still be Lua.
  const alternatives = text
    .split("\n")
    .map((l, i) => ({ i, m: /^(\s*)-- ((?:[a-z_]+|\["[^"]+"\]) = .*)$/.exec(l) }))
    .filter((x) => x.m);
  for (const { i, m } of [{ i: -1, m: null }, ...alternatives]) {
    it(`is Lua ${m ? `with line ${i + 1} uncommented (${m[2]!.slice(0, 40)}…)` : "as shipped"} (luac -p)`, () => {
      const lines = text.split("\n");
      if (m) lines[i] = `${m[1]}${m[2]}`;
      const r = spawnSync(luac, ["-p", "-"], { input: lines.join("\n"), encoding: "utf8" });
      expect(r.error, `${luac}: apt-get install lua5.4`).toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
    });
  }
});

describe("the Dockerfile and the systemd unit agree with the package", () => {
  const dockerfile = readFileSync(join(APP, "Dockerfile"), "utf8");
  const unit = example("xmppkit-gateway.service");
  const texts = { Dockerfile: dockerfile, "xmppkit-gateway.service": unit };

  it("the image's Node is one the package supports (engines)", () => {
    const major = Number(/^FROM node:(\d+)/m.exec(dockerfile)?.[1]);
    const min = Number(/^>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(min).toBeGreaterThan(0);
    expect(major, `FROM node:${major} but engines.node is ${pkg.engines.node}`).toBeGreaterThanOrEqual(min);
  });

  it.each(Object.entries(texts))("%s names only xmppkit packages the gateway installs, and never asks to install its modules separately", (_, text) => {
    for (const [, name] of text.matchAll(/@xmppkit\/([a-z-]+)/g)) expect(["gateway", ...MODULES]).toContain(name);
    // The gateway depends on every xmppkit module: a sentence of the comments that says to add or install one is stale.
    const comments = text
      .split("\n")
      .filter((l) => l.startsWith("#"))
      .map((l) => l.replace(/^#\s?/, ""))
      .join(" ")
      .replace(/\s+/g, " ");
    const counted = [...comments.matchAll(/\bthe (\w+) xmppkit modules\b/g)].map((m) => m[1]);
    const words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
    for (const n of counted) expect(n, "the number of modules the gateway depends on").toBe(words[MODULES.length]);
    for (const sentence of comments.split(/(?<=[.:;])\s/).filter((s) => /\b(add|install|npm i)\b/i.test(s))) {
      expect(sentence).not.toMatch(/the modules you enable/i);
      for (const m of MODULES) expect(sentence, "the gateway already installs it").not.toContain(`@xmppkit/${m}`);
    }
  });

  it("both run the package's bin with the same config path", () => {
    expect(Object.keys(pkg.bin)).toEqual(["xmppkit-gateway"]);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["xmppkit-gateway", "--config", "\/etc\/xmppkit\/gateway.yaml"\]/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/env xmppkit-gateway --config \/etc\/xmppkit\/gateway.yaml$/m);
  });

  it("the image runs as a user it creates; its data directory is gateway.yaml's", () => {
    const user = /^USER (\S+)/m.exec(dockerfile)?.[1];
    expect(dockerfile).toMatch(new RegExp(`useradd [^\\n]*\\b${user}\\b`));
    expect(dockerfile).toContain((parse(example("gateway.yaml")) as { storage: { data_dir: string } }).storage.data_dir);
  });

  it("the unit runs as a user that exists (DynamicUser=yes), in its state directory, and keeps the watchdog settings", () => {
    const settings = unit.split("\n").filter((l) => /^[A-Z]\w*=/.test(l));
    expect(settings).toContain("DynamicUser=yes");
    expect(settings.filter((l) => /^(User|Group)=/.test(l))).toEqual([]);
    expect(settings).toContain("StateDirectory=xmppkit");
    expect(`/var/lib/xmppkit`).toBe((parse(example("gateway.yaml")) as { storage: { data_dir: string } }).storage.data_dir);
    for (const s of ["Type=notify", "NotifyAccess=main", "WatchdogSec=10", "TimeoutAbortSec=5", "RestartPreventExitStatus=3 4"]) expect(settings).toContain(s);
  });

  it("the unit keeps Node's compile cache in its own cache directory (PrivateTmp= would empty the default one)", () => {
    const settings = unit.split("\n").filter((l) => /^[A-Z]\w*=/.test(l));
    expect(settings).toContain("PrivateTmp=true");
    expect(settings).toContain("CacheDirectory=xmppkit-gateway");
    expect(settings).toContain("Environment=NODE_COMPILE_CACHE=%C/xmppkit-gateway");
  });

  // systemd 252's verify works without systemd as PID 1 (a container): it parses the unit and checks the commands.
  // scripts/setup.sh installs systemd where it is missing: not there fails the test, it is not skipped.
  it("systemd-analyze verify finds nothing to say about the unit", () => {
    const path = join(dir, "xmppkit-gateway.service");
    writeFileSync(path, unit);
    const r = spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
    expect(r.error, "systemd-analyze: apt-get install systemd").toBeUndefined();
    expect([r.status, r.stderr.trim(), r.stdout.trim()]).toEqual([0, "", ""]);
  });
});
