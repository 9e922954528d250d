// The feature's errors, on core's branded base: one line each, and `isInstance()` holds across two copies of
// the package (where `instanceof` does not).
import { XmppkitError } from "@xmppkit/core";

export class __Name__Error extends XmppkitError {
  static override readonly brand = "__Name__Error";
}
