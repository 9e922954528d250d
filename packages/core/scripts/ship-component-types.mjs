// After tsup: ship src/xmpp-component.d.ts (types for @xmpp/component, which has none) beside the bundled
// declarations, and reference it from them, so that every consumer of @xmppkit/core gets it.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";

const REF = '/// <reference path="./xmpp-component.d.ts" />\n';
copyFileSync("src/xmpp-component.d.ts", "dist/xmpp-component.d.ts");
for (const file of ["dist/index.d.ts", "dist/index.d.cts"]) {
  const text = readFileSync(file, "utf8");
  if (!text.startsWith(REF)) writeFileSync(file, REF + text);
}
