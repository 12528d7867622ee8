/**
 * Loaded into a relay process under measurement by perf/Footprint.ts
 * (`node --expose-gc --import <this file> dist/src/main.js …`): on SIGUSR2 it
 * reads the process's memory as it is, forces a full garbage collection, reads
 * it again and writes both to the file named by FOOTPRINT_PROBE_OUT (written
 * whole under a temporary name, then renamed, so the reader never sees half a
 * file). Nothing else in the relay changes; the probe is not part of Imprint.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs"
import { getHeapSpaceStatistics } from "node:v8"

const MB = 1e6
const round = (bytes: number) => Math.round((bytes / MB) * 10) / 10

/** VmRSS, RssAnon, RssFile and VmHWM of this process, MB */
const status = () => {
  const text = readFileSync("/proc/self/status", "utf8")
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN)
  return { rssMb: round(kb("VmRSS") * 1024), rssAnonMb: round(kb("RssAnon") * 1024), rssFileMb: round(kb("RssFile") * 1024), hwmMb: round(kb("VmHWM") * 1024) }
}

const usage = () => {
  const u = process.memoryUsage()
  return { heapUsedMb: round(u.heapUsed), heapTotalMb: round(u.heapTotal), externalMb: round(u.external), arrayBuffersMb: round(u.arrayBuffers) }
}

/** used and committed size of V8's heap spaces that hold anything, MB */
const spaces = () =>
  Object.fromEntries(
    getHeapSpaceStatistics()
      .filter((s) => s.space_size > 0)
      .map((s) => [s.space_name, { usedMb: round(s.space_used_size), sizeMb: round(s.space_size) }])
  )

const collect = (globalThis as { gc?: () => void }).gc

process.on("SIGUSR2", () => {
  const out = process.env.FOOTPRINT_PROBE_OUT
  if (out === undefined || collect === undefined) return
  const before = { ...status(), ...usage(), spaces: spaces() }
  collect()
  collect()
  const after = { ...status(), ...usage(), spaces: spaces() }
  writeFileSync(`${out}.tmp`, JSON.stringify({ at: Date.now(), before, after }))
  renameSync(`${out}.tmp`, out)
})
