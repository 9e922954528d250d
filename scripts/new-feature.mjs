#!/usr/bin/env node
// A new feature package from the template: `node scripts/new-feature.mjs <name> ["<description>"] [--dest <dir>]`.
// <name> is the package name without the scope, in kebab case (e.g. "muc-topic"); the files land in
// packages/<name> (or --dest), with every __name__/__Name__/__camel__/__snake__/__description__ filled in.
// Then: `pnpm install`, write the feature, its README, and its e2e test on every server it supports.
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The names a feature goes by, from its kebab-case package name. */
export function featureNames(name, description = `TODO: one sentence on what @xmppkit/${name} does.`) {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) throw new Error(`"${name}": a feature name is kebab case, e.g. muc-topic`);
  const words = name.split("-");
  const pascal = words.map((w) => w[0].toUpperCase() + w.slice(1)).join("");
  return {
    __name__: name,
    __Name__: pascal,
    __camel__: pascal[0].toLowerCase() + pascal.slice(1),
    __snake__: words.join("_"),
    __description__: description,
  };
}

function fill(text, names) {
  return text.replace(/__(name|Name|camel|snake|description)__/g, (token) => names[token]);
}

/** Copy the template to `dest` with the names filled in, in file contents and file names. */
export function newFeature(name, { description, dest = join(root, "packages", name) } = {}) {
  if (existsSync(dest)) throw new Error(`${dest} exists already`);
  const names = featureNames(name, description);
  cpSync(join(root, "templates/feature"), dest, { recursive: true });
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, fill(entry, names));
      if (path !== join(dir, entry)) renameSync(join(dir, entry), path);
      if (statSync(path).isDirectory()) walk(path);
      else writeFileSync(path, fill(readFileSync(path, "utf8"), names));
    }
  };
  walk(dest);
  return dest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--dest");
  const dest = at >= 0 ? resolve(args.splice(at, 2)[1]) : undefined;
  const [name, description] = args;
  if (!name) {
    console.error('usage: node scripts/new-feature.mjs <name> ["<description>"] [--dest <dir>]');
    process.exit(2);
  }
  try {
    console.log(`created ${newFeature(name, { description, dest })}`);
  } catch (err) {
    console.error(`new-feature: ${err.message}`);
    process.exit(1);
  }
}
