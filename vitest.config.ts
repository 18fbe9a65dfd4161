import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native libraries loaded through koffi and C builds run in forks, one file per process.
    pool: "forks",
  },
});
