export * from "./info.js";
export * from "./trusted.js";
export * from "./affiliation-source.js";
export * from "./affiliations.js";
export * from "./options.js";
export * from "./gateway-module.js";
import "./events.js";
