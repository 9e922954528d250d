import { parseOptions } from "@xmppkit/runtime";
import { describe, expect, it } from "vitest";
import { reportAffiliationsSchema } from "./options.js";

describe("report-affiliations options", () => {
  it("take Prosody's option names as its module reads them, and as its README writes them", () => {
    const prosody = parseOptions(
      reportAffiliationsSchema,
      { report_affiliations_registered: ["prosody:user"], report_affiliations_anonymous: ["x:guest"] },
      "report-affiliations",
    );
    expect(prosody).toMatchObject({ report_affiliations_registered: ["prosody:user"], report_affiliations_anonymous: ["x:guest"] });
    const readme = parseOptions(reportAffiliationsSchema, { report_affiliations_registered_roles: ["prosody:user"] }, "report-affiliations");
    expect(readme).toMatchObject({ report_affiliations_registered: ["prosody:user"] });
  });

  it("refuses both spellings at once, naming the second", () => {
    expect(() =>
      parseOptions(reportAffiliationsSchema, { report_affiliations_registered: [], report_affiliations_registered_roles: [] }, "report-affiliations"),
    ).toThrow(/report_affiliations_registered_roles/);
  });
});
