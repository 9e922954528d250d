// The feature's errors: core's brand, so `isInstance` holds across two copies of the package.
import { brandError, hasErrorBrand } from "@xmppkit/core";

export class __Name__Error extends Error {
  override name = "__Name__Error";
  static isInstance(value: unknown): value is __Name__Error {
    return hasErrorBrand(value, "__Name__Error");
  }
  constructor(message: string) {
    super(message);
    brandError(this, "__Name__Error");
  }
}
