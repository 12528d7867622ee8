import { defineConfig } from "vitest/config"

// Two projects: `unit` needs nothing but npm (it is `npm test`); `peers` needs
// Debian packages (postfix) that .ci/run installs before running it.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["spec/**/*.test.ts"],
          exclude: ["spec/peers/**"],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      },
      {
        test: {
          name: "peers",
          include: ["spec/peers/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          sequence: { concurrent: false }
        }
      }
    ]
  }
})
