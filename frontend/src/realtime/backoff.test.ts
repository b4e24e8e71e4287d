// @vitest-environment node
import { backoffDelay } from "./backoff";

describe("backoffDelay", () => {
  const options = { baseMs: 500, capMs: 8000 };

  it("doubles per attempt between half and all of the ceiling", () => {
    expect(backoffDelay(0, options, () => 0)).toBe(250);
    expect(backoffDelay(0, options, () => 1)).toBe(500);
    expect(backoffDelay(3, options, () => 0)).toBe(2000);
    expect(backoffDelay(3, options, () => 1)).toBe(4000);
  });

  it("never waits past the cap", () => {
    expect(backoffDelay(30, options, () => 1)).toBe(8000);
    expect(backoffDelay(30, options, () => 0)).toBe(4000);
  });
});
