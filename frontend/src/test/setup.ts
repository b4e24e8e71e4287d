import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(() => {
  if (typeof window === "undefined") return; // tests of plain logic run in node
  cleanup();
  window.location.hash = "";
});
