// Pack every published package of the workspace into `dest` with `pnpm pack` (which turns `workspace:`
// ranges into the versions being published), as npm would download them. Used by the consumer tests
// (tests/consumer) and the footprint benchmark (bench/footprint.mjs). Expects a build (`dist/`).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");

/** The workspace's published packages: name → directory. */
export function publishedPackages() {
  const out = {};
  for (const parent of ["packages", "apps"]) {
    for (const name of readdirSync(join(ROOT, parent))) {
      const dir = join(ROOT, parent, name);
      let pkg;
      try {
        pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      } catch {
        continue;
      }
      if (!pkg.private) out[pkg.name] = dir;
    }
  }
  return out;
}

/** Pack `names` (default: every published package) into `dest`; returns name → tarball path. */
export function packAll(dest, names = Object.keys(publishedPackages())) {
  const dirs = publishedPackages();
  const out = {};
  for (const name of names) {
    const dir = dirs[name];
    if (!dir) throw new Error(`not a published workspace package: ${name}`);
    const before = new Set(readdirSync(dest));
    execFileSync("pnpm", ["pack", "--pack-destination", dest], { cwd: dir, stdio: "pipe" });
    const made = readdirSync(dest).find((f) => f.endsWith(".tgz") && !before.has(f));
    if (!made) throw new Error(`pnpm pack made no tarball for ${name}`);
    out[name] = join(dest, made);
  }
  return out;
}

/**
 * Serve packed tarballs as an npm registry for their scope (`npm install --@xmppkit:registry=<url> …`), so
 * that npm resolves them as it will from registry.npmjs.org: by name and range, peer dependencies
 * included (npm looks up even an optional peer it will not install). Everything else still comes from the
 * public registry. Returns the URL and close().
 */
export async function serveTarballs(tarballs) {
  const { createServer } = await import("node:http");
  const { createHash } = await import("node:crypto");
  const { execFileSync } = await import("node:child_process");
  const byName = new Map();
  for (const path of Object.values(tarballs)) {
    const manifest = JSON.parse(execFileSync("tar", ["-xzOf", path, "package/package.json"], { encoding: "utf8" }));
    const bytes = readFileSync(path);
    byName.set(manifest.name, {
      manifest,
      bytes,
      shasum: createHash("sha1").update(bytes).digest("hex"),
      integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
    });
  }
  let base = "";
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]);
    const tarball = /^\/(.+)\/-\/[^/]+\.tgz$/.exec(path);
    const entry = byName.get(tarball ? tarball[1] : path.slice(1));
    if (!entry) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    if (tarball) {
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(entry.bytes);
      return;
    }
    const { manifest } = entry;
    const file = `${manifest.name.split("/").pop()}-${manifest.version}.tgz`;
    const version = {
      ...manifest,
      _id: `${manifest.name}@${manifest.version}`,
      dist: { tarball: `${base}/${manifest.name}/-/${file}`, shasum: entry.shasum, integrity: entry.integrity },
    };
    const packument = { name: manifest.name, "dist-tags": { latest: manifest.version }, versions: { [manifest.version]: version } };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(packument));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  return { url: base, close: () => new Promise((resolve) => server.close(resolve)) };
}
