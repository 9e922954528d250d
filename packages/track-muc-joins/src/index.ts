export * from "./join-tracker.js";
export * from "./join-room.js";
export * from "./muc-joins.js";
export * from "./options.js";
export * from "./gateway-module.js";
import "./events.js";
