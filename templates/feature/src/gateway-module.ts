// The gateway module: `modules_enabled: [__name__]` plus a `__name__:` section. It maps options, metrics and
// logs onto the feature; anything a bot or bridge needs too lives in the feature, not here.
import { defineModule } from "@xmppkit/core";
import { __camel__Options } from "./options.js";
import { setup__Name__, type __Name__Handle } from "./__name__.js";
import type {} from "./events.js"; // the bus events this module emits

export const gatewayModule = defineModule({
  name: "__name__",
  description: "__description__",
  options: __camel__Options,
  setup(ctx, o): __Name__Handle {
    const { kit, log, events, metrics } = ctx;
    const handle = setup__Name__({ ...kit, logger: log }, { name: o.__snake___name, version: o.__snake___version });
    const answered = metrics.counter(ctx.name, "answered_total", "Version queries answered", []);
    handle.on("answered", (a) => {
      answered.inc();
      events.emit("__name__-answered", a);
    });
    log.info({ name: o.__snake___name }, "answering version queries");
    ctx.onStop(() => handle.stop());
    return handle;
  },
});
