import type { TraceEntry } from "../../src/domain/Trace.js"

/** A relayed, unstamped transaction of `tenant` at `at` (epoch ms), as DataPhase reports one. */
export const entry = (tenant: string, at: number, extra: Partial<TraceEntry> = {}): TraceEntry => ({
  at,
  tenant,
  connector: "address",
  client: "127.0.0.1",
  sender: `alice@${tenant}.example`,
  recipients: ["bob@example.org"],
  messageId: `<${tenant}-${at}@example>`,
  size: 100,
  decision: "unstamped",
  reason: "sender-not-in-directory",
  outcome: "relayed",
  reply: { code: 250, enhanced: "2.6.0", text: "relayed" },
  copies: [{ recipients: ["bob@example.org"], rules: [], templates: [], stamped: [], reply: { code: 250, text: "ok" }, durationMs: 1 }],
  durationMs: 2,
  ...extra
})
