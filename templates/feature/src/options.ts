// Gateway options, under Prosody's name where Prosody has one; the rest share its prefix. Each default says why.
import { moduleOptions, z } from "@xmppkit/runtime";

export const __camel__Schema = z.strictObject({
  /** The software name answered to XEP-0092 queries. */
  __snake___name: z.string().min(1).default("xmppkit"),
  /** The version answered. */
  __snake___version: z.string().default("0"),
});

export const __camel__Options = moduleOptions(__camel__Schema);

export type __Name__GatewayOptions = z.output<typeof __camel__Schema>;
