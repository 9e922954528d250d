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

  it("ask the server for account creation times when it has them, by default for up to 2 s, reused for an hour", () => {
    expect(parseOptions(reportAffiliationsSchema, {}, "report-affiliations")).toMatchObject({
      report_affiliations_account_info: "auto",
      report_affiliations_account_info_timeout: 2000,
      report_affiliations_account_info_ttl: 3_600_000,
    });
    const off = parseOptions(
      reportAffiliationsSchema,
      { report_affiliations_account_info: false, report_affiliations_account_info_ttl: "1d" },
      "report-affiliations",
    );
    expect(off).toMatchObject({ report_affiliations_account_info: false, report_affiliations_account_info_ttl: 86_400_000 });
    expect(() => parseOptions(reportAffiliationsSchema, { report_affiliations_account_info: "yes" }, "report-affiliations")).toThrow(
      /report_affiliations_account_info/,
    );
  });

  it("refuses both spellings at once, naming the second", () => {
    expect(() =>
      parseOptions(reportAffiliationsSchema, { report_affiliations_registered: [], report_affiliations_registered_roles: [] }, "report-affiliations"),
    ).toThrow(/report_affiliations_registered_roles/);
  });
});
