import { packageBuild } from "../../tsup.shared.ts";

// The main entry is what a bot imports; ./gateway holds the module definition and its zod option schema.
// shims: import.meta.url (the bundled GeoIP database's path) in the CommonJS build too.
export default packageBuild({ entry: ["src/index.ts", "src/gateway.ts"], shims: true });
