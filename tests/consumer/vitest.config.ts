import { packageTests } from "../../vitest.shared.ts";

// npm installs from the registry take a while: generous timeouts.
export default packageTests(import.meta.dirname, { testTimeout: 300_000, hookTimeout: 600_000 });
