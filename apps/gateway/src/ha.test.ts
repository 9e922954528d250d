import { describe, expect, it } from "vitest";
import { haRole } from "./ha.js";

function gauge() {
  const values: number[] = [];
  return { values, metrics: { gauge: () => ({ set: (v: number) => void values.push(v) }) } as never };
}

describe("the active/standby role", () => {
  it("without ha, active from the start", () => {
    const { values, metrics } = gauge();
    expect(haRole(metrics, { ha: { enabled: false } } as never).role).toBe("active");
    expect(values).toEqual([1]);
  });

  it("with ha, asking until PostgreSQL answers; standby while another holds the lease; active once held", () => {
    const { values, metrics } = gauge();
    const ha = haRole(metrics, { ha: { enabled: true } } as never);
    expect([ha.role, values]).toEqual(["asking", [0]]);
    ha.standby();
    expect([ha.role, values]).toEqual(["standby", [0]]);
    ha.active();
    expect([ha.role, values]).toEqual(["active", [0, 1]]);
  });
});
