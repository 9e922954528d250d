// The `ts` code blocks of every README, as a user copies them. A block preceded by `<!-- runnable: bot -->`
// is a complete bot that connects, does its work and stops: it is run against a test Prosody.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../../..");

export interface Snippet {
  /** README path relative to the repository. */
  readme: string;
  /** 1-based line of the first code line in the README. */
  line: number;
  code: string;
  runnable: boolean;
  /** A file name for it: packages__core__README-1.ts */
  file: string;
}

function readmes(): string[] {
  const out = [join(ROOT, "README.md")];
  for (const parent of ["packages", "apps"]) {
    for (const name of readdirSync(join(ROOT, parent))) out.push(join(ROOT, parent, name, "README.md"));
  }
  for (const name of readdirSync(join(ROOT, "docs"))) if (name.endsWith(".md")) out.push(join(ROOT, "docs", name));
  return out;
}

export function readmeSnippets(): Snippet[] {
  const out: Snippet[] = [];
  for (const path of readmes()) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    const readme = relative(ROOT, path);
    const lines = text.split("\n");
    let n = 0;
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.trim() !== "```ts") continue;
      const end = lines.findIndex((l, j) => j > i && l.trim() === "```");
      if (end < 0) throw new Error(`${readme}:${i + 1}: a ts block that never ends`);
      n += 1;
      const runnable = /<!--\s*runnable:\s*bot\s*-->/.test(lines[i - 1] ?? "");
      const file = `${readme.replace(/\.md$/, "").replace(/[/.]/g, "__")}-${n}.ts`;
      out.push({ readme, line: i + 2, code: lines.slice(i + 1, end).join("\n"), runnable, file });
      i = end;
    }
  }
  return out;
}

/** tsc's `snippets/<file>(line,col): error …` lines, pointed back at the README lines. */
export function readmeErrors(tscOutput: string, snippets: Snippet[]): string[] {
  const byFile = new Map(snippets.map((s) => [s.file, s]));
  return tscOutput
    .split("\n")
    .filter((l) => /error TS\d+/.test(l))
    .map((l) => {
      const m = /^snippets\/([^()]+)\((\d+),(\d+)\): (.*)$/.exec(l.trim());
      const s = m ? byFile.get(m[1]!) : undefined;
      return s && m ? `${s.readme}:${s.line + Number(m[2]) - 1}:${m[3]}: ${m[4]}` : l.trim();
    });
}
