export * from "./config.js";
export * from "./modules.js";
export * from "./gateway.js";
