import * as path from "node:path"

/**
 * Where a perf run writes its results: perf/results/local/ (git-ignored), so a
 * regression check leaves the working tree clean, or perf/results/ (committed,
 * quoted by the README) when the run is meant to be kept: `--record`.
 */
export const RECORD_FLAG = "--record"

export const resultsDir = (root: string): string =>
  process.argv.includes(RECORD_FLAG) ? path.join(root, "perf", "results") : path.join(root, "perf", "results", "local")
