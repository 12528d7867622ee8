import { Effect } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type TraceRecord, UNBOUND_TENANT } from "../../src/domain/Trace.js"
import { MAX_PART_HEADER_BYTES } from "../../src/pipeline/Transaction.js"
import { hashAddress, tenantKey } from "../../src/trace/RecipientHash.js"
import { TraceHashKey, TraceSearch, type TraceQuery } from "../../src/trace/TraceSearch.js"
import { TraceWriter } from "../../src/trace/TraceWriter.js"
import { loopbackTenant, signatureTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

/**
 * The message trace end to end (issue 19): a real relay relays messages
 * through every decision path to real sinks, and each is found in the trace
 * with the right fields — and none of the content: the subject and a body
 * marker of every message appear nowhere in the relay's stored bytes.
 *
 * Tenants: acme (signatureTenant, bound by 127.0.0.1), refused (bound by
 * 127.0.0.2, its downstream refuses every DATA and RCPT TO nobody@outside.example,
 * recipients hashed) and split
 * (bound by 127.0.0.3, two copies per message, its downstream accepts one
 * connection and then no more). 127.0.0.9 is bound to no tenant.
 */

const SUBJECT = "Quarterly-Secret-Subject"
const MARKER = "BODY-MARKER-7Q4Z"

const message = (id: string, opts: { from?: string; contentType?: string; body?: string; extra?: string } = {}) =>
  [
    `From: <${opts.from ?? "alice@acme.example"}>`,
    "To: bob@acme.example",
    `Subject: ${SUBJECT} ${id}`,
    `Message-ID: <${id}@trace.example>`,
    "MIME-Version: 1.0",
    ...(opts.extra !== undefined ? [opts.extra] : []),
    `Content-Type: ${opts.contentType ?? "text/plain; charset=us-ascii"}`,
    "",
    opts.body ?? `Here they are. ${MARKER}\r\n\r\nOn Mon, 23 Nov 2026 at 09:12, Carol <carol@customer.example> wrote:\r\n> figures?`,
    ""
  ].join("\r\n")

const multipart = (id: string, type: string, parts: ReadonlyArray<string>) =>
  message(id, {
    contentType: `${type}; boundary="b"`,
    body: [...parts.map((p) => `--b\r\n${p}`), "--b--"].join("\r\n")
  })

/** A TCP front for a sink that lets one connection through and then stops listening: the downstream becomes unreachable. */
const oneConnectionFront = async (target: number) => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    server.close()
    const upstream = net.connect(target, "127.0.0.1")
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("error", () => undefined)
      s.on("close", () => sockets.delete(s))
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  return { port, close: () => sockets.forEach((s) => s.destroy()) }
}

/** Every file under `dir`, as one buffer per file. */
const storedFiles = (dir: string): Array<{ file: string; bytes: Buffer }> =>
  fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name))
    .map((file) => ({ file, bytes: fs.readFileSync(file) }))

describe("message trace through the relay", () => {
  let sink: Sink
  let refusing: Sink
  let splitSink: Sink
  let front: Awaited<ReturnType<typeof oneConnectionFront>>
  let imprint: RunningImprint

  beforeAll(async () => {
    sink = await startSink({ starttls: false })
    refusing = await startSink({
      starttls: false,
      rejectData: { code: 554, enhanced: "5.7.1", message: "policy refuses mail for erin@outside.example" },
      rejectRcpt: { "nobody@outside.example": { code: 550, enhanced: "5.1.1", message: "no such user nobody@outside.example" } }
    })
    splitSink = await startSink({ starttls: false })
    front = await oneConnectionFront(splitSink.port)
    const split = signatureTenant(front.port)
    imprint = await startImprint({
      tenants: [
        { ...signatureTenant(sink.port), connectors: [{ type: "cidr", cidrs: ["127.0.0.1/32"] }] },
        loopbackTenant(refusing.port, {
          id: "refused",
          domains: ["refused.example"],
          connectors: [{ type: "cidr", cidrs: ["127.0.0.2/32"] }],
          trace: { hashRecipients: true }
        }),
        {
          ...split,
          id: "split",
          domains: ["split.example"],
          connectors: [{ type: "cidr", cidrs: ["127.0.0.3/32"] }],
          directory: [{ mail: "fay@split.example", displayName: "Fay", title: "Ops" }]
        }
      ],
      // the pool would keep the split tenant's one connection; it must be the only one
      config: { downstreamPool: { maxIdlePerTarget: 0 } }
    })
  })
  afterAll(async () => {
    await imprint?.close()
    front?.close()
    for (const s of [sink, refusing, splitSink]) await s?.close()
  })

  const send = async (from: string, to: ReadonlyArray<string>, raw: string | Buffer, localAddress = "127.0.0.1") => {
    const c = await RawSmtp.connect(imprint.port, { localAddress })
    const reply = await c.send(from, to, raw)
    c.end()
    return reply
  }

  const search = (q: TraceQuery) =>
    imprint.use(
      Effect.gen(function* () {
        yield* (yield* TraceWriter).flush
        return (yield* (yield* TraceSearch).search(q)).records
      })
    )

  /** The one record of the transaction with this Message-ID (the trace keeps its angle brackets). */
  const traced = async (id: string, tenant = "acme"): Promise<TraceRecord> => {
    const found = await search({ tenant, messageId: `${id}@trace.example` })
    expect(found.map((r) => r.messageId)).toEqual([`<${id}@trace.example>`])
    return found[0]
  }

  it("stamped: one copy per recipient group with its rules, template versions, parts, reply and duration", async () => {
    expect((await send("alice@acme.example", ["bob@acme.example", "carol@customer.example"], message("stamped"))).code).toBe(250)
    const r = await traced("stamped")
    expect(r).toMatchObject({
      tenant: "acme",
      connector: "address",
      client: "127.0.0.1",
      sender: "alice@acme.example",
      recipients: ["bob@acme.example", "carol@customer.example"],
      decision: "stamped",
      outcome: "relayed",
      reply: { code: 250, enhanced: "2.6.0" }
    })
    expect(r.reason).toBeUndefined()
    expect(r.size).toBe(Buffer.byteLength(message("stamped")))
    expect(r.node).toBe(imprint.config.smtp.name)
    const internal = r.copies.find((c) => c.recipients.includes("bob@acme.example"))!
    const external = r.copies.find((c) => c.recipients.includes("carol@customer.example"))!
    expect(internal).toMatchObject({ recipients: ["bob@acme.example"], rules: ["signature"], templates: ["sig@1"], stamped: ["text"], reply: { code: 250 } })
    expect(external).toMatchObject({
      recipients: ["carol@customer.example"],
      rules: ["signature", "disclaimer"],
      templates: ["sig@1", "disc@1"],
      stamped: ["text"]
    })
    for (const c of r.copies) expect(c.durationMs).toBeGreaterThanOrEqual(0)
    expect(r.durationMs).toBeGreaterThanOrEqual(Math.max(...r.copies.map((c) => c.durationMs!)))
  })

  it("unstamped, with the reason: sender not in the directory, signed, calendar, report, null sender", async () => {
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ["stranger", "sender-not-in-directory", message("stranger", { from: "dave@acme.example" })],
      [
        "signed",
        "signed",
        multipart("signed", 'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256', [
          `Content-Type: text/plain\r\n\r\n${MARKER}`,
          "Content-Type: application/pkcs7-signature\r\n\r\nAAAA"
        ])
      ],
      [
        "calendar",
        "calendar",
        message("calendar", { contentType: "text/calendar; method=REQUEST", body: `BEGIN:VCALENDAR\r\nSUMMARY:${MARKER}\r\nEND:VCALENDAR` })
      ],
      [
        "report",
        "report",
        multipart("report", "multipart/report; report-type=delivery-status", [
          `Content-Type: text/plain\r\n\r\n${MARKER}`,
          "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example"
        ])
      ]
    ]
    for (const [id, reason, raw] of cases) {
      const from = id === "stranger" ? "dave@acme.example" : "alice@acme.example"
      expect((await send(from, ["bob@acme.example"], raw)).code).toBe(250)
      const r = await traced(id)
      expect(r).toMatchObject({ decision: "unstamped", reason, outcome: "relayed", sender: from })
      expect(r.copies).toEqual([
        expect.objectContaining({ recipients: ["bob@acme.example"], rules: [], templates: [], stamped: [], reply: expect.objectContaining({ code: 250 }) })
      ])
    }
    expect((await send("", ["bob@acme.example"], message("bounce"))).code).toBe(250)
    expect(await traced("bounce")).toMatchObject({ sender: "", decision: "unstamped", reason: "null-sender" })
  })

  it("loop: a message Imprint already stamped passes with reason loop", async () => {
    const before = sink.messages.length
    expect((await send("alice@acme.example", ["bob@acme.example"], message("loop"))).code).toBe(250)
    const [stamped] = (await sink.waitFor(before + 1)).slice(before)
    expect((await send("alice@acme.example", ["bob@acme.example"], stamped.raw)).code).toBe(250)
    const both = await search({ tenant: "acme", messageId: "<loop@trace.example>" })
    expect(both.map((r) => [r.decision, r.reason])).toEqual([
      ["unstamped", "loop"],
      ["stamped", undefined]
    ])
  })

  it("already present: the copy's signature is found above the reply, so the stamper leaves it", async () => {
    const body = `Thanks.\r\n\r\nAlice Example | Engineer\r\n${MARKER}\r\n\r\nOn Mon, 23 Nov 2026 at 09:12, Carol <carol@customer.example> wrote:\r\n> figures?`
    expect((await send("alice@acme.example", ["bob@acme.example"], message("present", { body }))).code).toBe(250)
    const r = await traced("present")
    expect(r).toMatchObject({ decision: "unstamped", reason: "already-signed", outcome: "relayed" })
    expect(r.copies).toEqual([expect.objectContaining({ rules: ["signature"], templates: ["sig@1"], stamped: [], skipped: "already-signed" })])
  })

  it("fail-safe: the stamped copy breaks (451, StampingFailed), its retry passes unstamped with reason failsafe-retry", async () => {
    const huge = `X-Filler: ${"a".repeat(998)}\r\n`.repeat(Math.ceil(MAX_PART_HEADER_BYTES / 1000) + 2)
    const raw = multipart("failsafe", "multipart/mixed", [
      `Content-Type: text/plain\r\n\r\n${MARKER}`,
      `Content-Type: application/octet-stream\r\n${huge}\r\nAAAA`
    ])
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send("alice@acme.example", ["bob@acme.example"], raw)).code).toBe(451)
    expect((await c.send("alice@acme.example", ["bob@acme.example"], raw)).code).toBe(250)
    c.end()
    const [retry, failed] = await search({ tenant: "acme", messageId: "failsafe@trace.example" })
    expect(failed).toMatchObject({ decision: "stamped", outcome: "deferred", error: "StampingFailed", reply: { code: 451, enhanced: "4.3.0" } })
    expect(failed.copies).toEqual([expect.objectContaining({ rules: ["signature"], templates: ["sig@1"] })])
    expect(retry).toMatchObject({ decision: "unstamped", reason: "failsafe-retry", outcome: "relayed" })
  })

  it("refused by the downstream: the refusal upstream and the copy's reply, recipients hashed for a tenant that asks", async () => {
    const reply = await send("eve@refused.example", ["erin@outside.example"], message("refused", { from: "eve@refused.example" }), "127.0.0.2")
    expect(reply.code).toBe(554)
    const r = await traced("refused", "refused")
    const key = await imprint.use(Effect.map(TraceHashKey, (secret) => tenantKey(secret, "refused")))
    const hashed = hashAddress(key, "erin@outside.example")
    expect(r).toMatchObject({
      tenant: "refused",
      client: "127.0.0.2",
      sender: "eve@refused.example",
      recipients: [hashed],
      decision: "unstamped",
      reason: "sender-not-in-directory",
      outcome: "rejected",
      error: "DownstreamRefused",
      reply: { code: 554, enhanced: "5.7.1" }
    })
    expect(r.copies).toEqual([expect.objectContaining({ recipients: [hashed], reply: expect.objectContaining({ code: 554 }) })])
    // the address the downstream quoted is hashed too
    expect(r.reply.text).toBe(`policy refuses mail for ${hashed}`)
    expect(r.copies[0].reply!.text).not.toContain("erin@")
    // searchable by the address, by its tenant only
    expect((await search({ tenant: "refused", recipient: "Erin@Outside.example" })).map((x) => x.id)).toEqual([r.id])
    expect(await search({ tenant: "acme", recipient: "erin@outside.example" })).toEqual([])
  })

  it("downstream unavailable: the second copy cannot connect, 451 4.4.1, each copy as far as it got", async () => {
    const raw = message("unavailable", { from: "fay@split.example" })
    expect((await send("fay@split.example", ["gus@split.example", "hal@customer.example"], raw, "127.0.0.3")).code).toBe(451)
    const r = await traced("unavailable", "split")
    expect(r).toMatchObject({
      tenant: "split",
      decision: "stamped",
      outcome: "deferred",
      error: "DownstreamUnavailable",
      reply: { code: 451, enhanced: "4.4.1" }
    })
    expect(r.copies.map((c) => c.rules)).toEqual([["signature"], ["signature", "disclaimer"]])
    expect(r.size).toBeUndefined()
  })

  /** MAIL FROM and RCPT TO one by one: the reply to each (no DATA is sent). */
  const envelope = async (from: string, to: ReadonlyArray<string>, localAddress = "127.0.0.1") => {
    const c = await RawSmtp.connect(imprint.port, { localAddress })
    const mail = await c.command(`MAIL FROM:<${from}>`)
    const rcpts = []
    if (mail.code === 250) for (const r of to) rcpts.push(await c.command(`RCPT TO:<${r}>`))
    await c.quit()
    return { mail, rcpts }
  }

  it("refused MAIL: an unbound client and a sender outside the tenant's domains, with reason, reply and no content", async () => {
    expect((await envelope("mallory@acme.example", ["bob@acme.example"], "127.0.0.9")).mail.code).toBe(530)
    const [unbound] = await search({ tenant: UNBOUND_TENANT, sender: "mallory@acme.example" })
    expect(unbound).toMatchObject({
      phase: "mail",
      tenant: UNBOUND_TENANT,
      connector: "none",
      client: "127.0.0.9",
      sender: "mallory@acme.example",
      recipients: [],
      decision: "none",
      reason: "unbound",
      outcome: "rejected",
      error: "NotBound",
      reply: { code: 530, enhanced: "5.7.0" },
      copies: []
    })
    expect(unbound.messageId).toBeUndefined()
    expect(unbound.durationMs).toBeGreaterThanOrEqual(0)
    expect((await envelope("mallory@elsewhere.example", ["bob@acme.example"])).mail.code).toBe(550)
    const denied = await search({ tenant: "acme", reason: "relay-denied" })
    expect(denied.map((r) => [r.phase, r.sender, r.outcome, r.reply.code, r.reply.enhanced])).toEqual([
      ["mail", "mallory@elsewhere.example", "rejected", 550, "5.7.1"]
    ])
    // filters work across tenants for operators, and a tenant admin's search of acme never shows the unbound refusal
    expect((await search({ reason: "unbound" })).map((r) => r.id)).toEqual([unbound.id])
    expect(await search({ tenant: "acme", sender: "mallory@acme.example" })).toEqual([])
  })

  it("refused RCPT: the downstream's refusal mirrored upstream, the recipient hashed for a tenant that asks", async () => {
    const { mail, rcpts } = await envelope("eve@refused.example", ["nobody@outside.example"], "127.0.0.2")
    expect(mail.code).toBe(250)
    expect(rcpts.map((r) => r.code)).toEqual([550])
    const key = await imprint.use(Effect.map(TraceHashKey, (secret) => tenantKey(secret, "refused")))
    const hashed = hashAddress(key, "nobody@outside.example")
    const [r] = await search({ tenant: "refused", reason: "downstream-refused" })
    expect(r).toMatchObject({
      phase: "rcpt",
      tenant: "refused",
      client: "127.0.0.2",
      sender: "eve@refused.example",
      recipients: [hashed],
      decision: "none",
      outcome: "rejected",
      error: "DownstreamRefused",
      reply: { code: 550, enhanced: "5.1.1", text: `no such user ${hashed}` }
    })
    expect((await search({ tenant: "refused", recipient: "nobody@outside.example", outcome: "rejected" })).map((x) => x.id)).toEqual([r.id])
  })

  it("keeps none of the content: no subject, no body marker anywhere in the relay's stored bytes", async () => {
    const files = storedFiles(imprint.config.dataDir)
    const all = Buffer.concat(files.map((f) => f.bytes))
    // the check can see what the trace stores: Message-IDs and clear recipients are there
    expect(all.includes(Buffer.from("stamped@trace.example"))).toBe(true)
    expect(all.includes(Buffer.from("carol@customer.example"))).toBe(true)
    for (const needle of [SUBJECT, MARKER, "Here they are", "erin@outside.example", "nobody@outside.example"]) {
      expect(
        files.filter((f) => f.bytes.includes(Buffer.from(needle))).map((f) => f.file),
        needle
      ).toEqual([])
    }
  })
})
