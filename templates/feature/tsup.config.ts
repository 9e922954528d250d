import { packageBuild } from "../../tsup.shared.ts";

// The main entry is what a bot imports; ./gateway holds the module definition and its zod option schema.
// Shared chunks (tsup.shared.ts): ./gateway imports the feature, it never ships a second copy.
export default packageBuild({ entry: ["src/index.ts", "src/gateway.ts"] });
