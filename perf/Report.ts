/**
 * From runs to figures: medians over repetitions per (scenario, target), the
 * ratios the targets are stated in, the memory check, and the
 * Markdown table that goes to perf/results/ and the README.
 */
/** a target of run.ts (TargetId) or of peers.ts */
type TargetId = string

export interface RunRecord {
  readonly scenario: string
  readonly group: "matrix" | "memory"
  readonly target: TargetId
  readonly rep: number
  readonly attempted: number
  readonly ok: number
  readonly errors: { readonly "4xx": number; readonly "5xx": number; readonly network: number }
  readonly errorSamples: ReadonlyArray<string>
  readonly elapsedS: number
  readonly msgsPerS: number
  readonly mbPerS: number
  readonly p50Ms: number
  readonly p90Ms: number
  readonly p99Ms: number
  readonly peakRssMb: number
  readonly cpuS: number
  readonly loadgenCpuS: number
  /** every acked message at the sink exactly once, nothing unexpected */
  readonly arrivedOnce: boolean
  readonly missing: number
  readonly duplicates: number
  /** at the sink although the generator did not get a 250 for it */
  readonly unackedArrivals: number
  /** messages at the sink that carry the perf signature marker */
  readonly stamped: number
  /** queueing peers (Postfix): seconds from the last 250 until the sink had every message */
  readonly drainS?: number
}

export interface Summary {
  readonly scenario: string
  readonly group: "matrix" | "memory"
  readonly target: TargetId
  readonly reps: number
  readonly msgsPerS: number
  readonly mbPerS: number
  readonly p50Ms: number
  readonly p90Ms: number
  readonly p99Ms: number
  readonly peakRssMb: number
  readonly cpuS: number
  readonly errors: { readonly "4xx": number; readonly "5xx": number; readonly network: number }
  readonly arrivedOnce: boolean
  readonly stampedShare: number
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

export const summarize = (runs: ReadonlyArray<RunRecord>): ReadonlyArray<Summary> => {
  const groups = new Map<string, Array<RunRecord>>()
  for (const r of runs) {
    const k = `${r.scenario}\u0000${r.target}`
    groups.set(k, [...(groups.get(k) ?? []), r])
  }
  return [...groups.values()].map((rs) => {
    const f = (pick: (r: RunRecord) => number) => median(rs.map(pick))
    const sum = (k: "4xx" | "5xx" | "network") => rs.reduce((n, r) => n + r.errors[k], 0)
    const ok = rs.reduce((n, r) => n + r.ok, 0)
    return {
      scenario: rs[0].scenario,
      group: rs[0].group,
      target: rs[0].target,
      reps: rs.length,
      msgsPerS: f((r) => r.msgsPerS),
      mbPerS: f((r) => r.mbPerS),
      p50Ms: f((r) => r.p50Ms),
      p90Ms: f((r) => r.p90Ms),
      p99Ms: f((r) => r.p99Ms),
      peakRssMb: f((r) => r.peakRssMb),
      cpuS: f((r) => r.cpuS),
      errors: { "4xx": sum("4xx"), "5xx": sum("5xx"), network: sum("network") },
      arrivedOnce: rs.every((r) => r.arrivedOnce),
      stampedShare: ok === 0 ? 0 : rs.reduce((n, r) => n + r.stamped, 0) / ok
    }
  })
}

const find = (ss: ReadonlyArray<Summary>, scenario: string, target: TargetId) => ss.find((s) => s.scenario === scenario && s.target === target)

export interface Ratio {
  readonly scenario: string
  /** (4)/(2), (4)/(2b) and (4)/(3) of msgs/s */
  readonly stampVsFloor: number
  readonly stampVsOwnFloor: number
  readonly stampVsPlain: number
  /** p50 latency of (4) minus (2), ms */
  readonly addedP50Ms: number
}

export const ratios = (ss: ReadonlyArray<Summary>): ReadonlyArray<Ratio> =>
  [...new Set(ss.filter((s) => s.group === "matrix").map((s) => s.scenario))].map((scenario) => {
    const floor = find(ss, scenario, "passthrough")
    const ownFloor = find(ss, scenario, "passthrough-own")
    const plain = find(ss, scenario, "imprint-plain")
    const stamp = find(ss, scenario, "imprint-stamp")
    return {
      scenario,
      stampVsFloor: (stamp?.msgsPerS ?? NaN) / (floor?.msgsPerS ?? NaN),
      stampVsOwnFloor: (stamp?.msgsPerS ?? NaN) / (ownFloor?.msgsPerS ?? NaN),
      stampVsPlain: (stamp?.msgsPerS ?? NaN) / (plain?.msgsPerS ?? NaN),
      addedP50Ms: (stamp?.p50Ms ?? NaN) - (floor?.p50Ms ?? NaN)
    }
  })

/** The memory check pairs: a large case against the same shape at 100 KB. */
export const MemoryPairs = [
  { label: "one 10 MB message vs one 100 KB", large: "mem 10m x1", small: "mem 100k x1" },
  { label: "one 100 MB message vs one 100 KB", large: "mem 100m x1", small: "mem 100k x1" },
  { label: "one 10 MB message, stamped part 10 MB, vs one 100 KB", large: "mem 10m-text x1", small: "mem 100k x1" },
  { label: "one 100 MB message, stamped part 100 MB, vs one 100 KB", large: "mem 100m-text x1", small: "mem 100k x1" },
  { label: "20 sessions × 10 MB vs × 100 KB", large: "mem 10m c20", small: "mem 100k c20" },
  { label: "20 sessions × 10 MB, stamped part 10 MB, vs × 100 KB", large: "mem 10m-text c20", small: "mem 100k c20" }
] as const

export interface MemoryRatio {
  readonly target: TargetId
  readonly label: string
  readonly smallMb: number
  readonly largeMb: number
  readonly ratio: number
}

export const memoryRatios = (ss: ReadonlyArray<Summary>): ReadonlyArray<MemoryRatio> =>
  [...new Set(ss.filter((s) => s.group === "memory").map((s) => s.target))].flatMap((target) =>
    MemoryPairs.map((p) => {
      const small = find(ss, p.small, target)?.peakRssMb ?? NaN
      const large = find(ss, p.large, target)?.peakRssMb ?? NaN
      return { target, label: p.label, smallMb: small, largeMb: large, ratio: large / small }
    }).filter((m) => Number.isFinite(m.largeMb))
  )

const n = (x: number, digits = 0): string =>
  Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–"

export const markdown = (o: {
  readonly title: string
  readonly context: ReadonlyArray<string>
  readonly summaries: ReadonlyArray<Summary>
  readonly skipped: ReadonlyArray<string>
}): string => {
  const out: Array<string> = [`## ${o.title}`, "", ...o.context.map((c) => `- ${c}`), ""]
  out.push(
    "| scenario | target | msgs/s | MB/s | p50 ms | p90 ms | p99 ms | peak RSS MB | CPU s | 4xx/5xx/net | once | stamped |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|--:|"
  )
  for (const s of o.summaries) {
    out.push(
      `| ${s.scenario} | ${s.target} | ${n(s.msgsPerS)} | ${n(s.mbPerS, 1)} | ${n(s.p50Ms, 2)} | ${n(s.p90Ms, 2)} | ${n(s.p99Ms, 2)} | ` +
        `${n(s.peakRssMb)} | ${n(s.cpuS, 2)} | ${s.errors["4xx"]}/${s.errors["5xx"]}/${s.errors.network} | ${s.arrivedOnce ? "yes" : "**NO**"} | ${n(s.stampedShare * 100)}% |`
    )
  }
  const rs = ratios(o.summaries)
  if (rs.some((r) => Number.isFinite(r.stampVsFloor) || Number.isFinite(r.stampVsPlain))) {
    out.push("", "| scenario | (4)/(2) msgs/s | (4)/(2b) msgs/s | (4)/(3) msgs/s | p50 added over (2), ms |", "|---|--:|--:|--:|--:|")
    for (const r of rs) out.push(`| ${r.scenario} | ${n(r.stampVsFloor, 2)} | ${n(r.stampVsOwnFloor, 2)} | ${n(r.stampVsPlain, 2)} | ${n(r.addedP50Ms, 2)} |`)
  }
  const ms = memoryRatios(o.summaries)
  if (ms.length > 0) {
    out.push(
      "",
      "Memory check (peak RSS of the relay process; flat means ratio ≈ 1):",
      "",
      "| target | case | at 100 KB, MB | large, MB | ratio |",
      "|---|---|--:|--:|--:|"
    )
    for (const m of ms) out.push(`| ${m.target} | ${m.label} | ${n(m.smallMb)} | ${n(m.largeMb)} | ${n(m.ratio, 2)} |`)
  }
  if (o.skipped.length > 0) out.push("", ...o.skipped.map((s) => `- skipped: ${s}`))
  return out.join("\n") + "\n"
}
