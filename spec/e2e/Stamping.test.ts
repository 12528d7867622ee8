import { describe, expect, it } from "vitest"
import { HEADER_PEEK_LIMIT } from "../../src/pipeline/headers/HeaderPeek.js"
import { MAX_STAMPED_LINE_BYTES } from "../../src/pipeline/mime/SplitterGuard.js"
import { MAX_PART_HEADER_BYTES } from "../../src/pipeline/Transaction.js"
import { stripImprintHeaders } from "../support/Corpus.js"
import { relayToSink, signatureTenant } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"

/** Stamping end to end: real relay, real tenant actor with templates, rules and directory (signatureTenant), real sink. */
const reply = (id: string) =>
  [
    "From: Alice <alice@acme.example>",
    "To: bob@acme.example, carol@customer.example",
    "Subject: Re: figures",
    `Message-ID: <${id}@acme.example>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "Here they are.",
    "",
    "On Mon, 23 Nov 2026 at 09:12, Carol <carol@customer.example> wrote:",
    "> Could you send the figures?",
    ""
  ].join("\r\n")

/** text/plain bodies come back quoted-printable or 7bit; enough to find ASCII text */
const bodyText = (raw: Buffer) => raw.toString("latin1").replace(/=\r\n/g, "")

describe("stamping through the relay", () => {
  const relay = relayToSink({ tenants: (port) => [signatureTenant(port)] })

  /** Sends `message` once; it must be accepted and reach the sink byte for byte (apart from Imprint's headers). */
  const expectRelayedUnchanged = async (from: string, message: string) => {
    const before = relay.sink.messages.length
    const c = await RawSmtp.connect(relay.imprint.port)
    expect((await c.send(from, ["bob@acme.example"], message)).code).toBe(250)
    c.end()
    const [got] = (await relay.sink.waitFor(before + 1)).slice(before)
    expect(stripImprintHeaders(got.raw).toString("latin1")).toBe(message)
  }

  /** The stamped copy fails: 451 4.3.0, nothing delivered; the retry on the same session is relayed unstamped, byte for byte. */
  const expect451ThenUnstampedRetry = async (message: string) => {
    const before = relay.sink.messages.length
    const c = await RawSmtp.connect(relay.imprint.port)
    const first = await c.send("alice@acme.example", ["bob@acme.example"], message)
    expect(first.code).toBe(451)
    expect(first.text).toMatch(/^4\.3\.0 /)
    expect(relay.sink.messages.length).toBe(before)
    const retry = await c.send("alice@acme.example", ["bob@acme.example"], message)
    c.end()
    expect(retry.code).toBe(250)
    const [got] = (await relay.sink.waitFor(before + 1)).slice(before)
    expect(stripImprintHeaders(got.raw).toString("latin1")).toBe(message)
  }

  it("stamps above the quoted reply, one copy per recipient group", async () => {
    const c = await RawSmtp.connect(relay.imprint.port)
    expect((await c.send("alice@acme.example", ["bob@acme.example", "carol@customer.example"], reply("groups"))).code).toBe(250)
    c.end()
    await relay.sink.waitFor(2)
    const internal = relay.sink.messages.find((m) => m.rcptTo.includes("bob@acme.example"))!
    const external = relay.sink.messages.find((m) => m.rcptTo.includes("carol@customer.example"))!
    expect(internal.rcptTo).toEqual(["bob@acme.example"])
    expect(external.rcptTo).toEqual(["carol@customer.example"])
    for (const m of [internal, external]) {
      const text = bodyText(m.raw)
      expect(text.split("Alice Example | Engineer").length - 1).toBe(1)
      expect(text.indexOf("Here they are.")).toBeLessThan(text.indexOf("Alice Example | Engineer"))
      expect(text.indexOf("Alice Example | Engineer")).toBeLessThan(text.indexOf("wrote:"))
      expect(m.raw.toString("latin1")).toMatch(/\r\nX-Imprint-Rule: signature/)
    }
    expect(bodyText(internal.raw)).not.toContain("external disclaimer")
    // the disclaimer is a bottom element: after the quote
    expect(bodyText(external.raw).indexOf("external disclaimer")).toBeGreaterThan(bodyText(external.raw).indexOf("> Could you"))
  })

  it("relays a message Imprint already stamped untouched (loop)", async () => {
    const before = relay.sink.messages.length
    const c = await RawSmtp.connect(relay.imprint.port)
    expect((await c.send("alice@acme.example", ["bob@acme.example"], reply("loop"))).code).toBe(250)
    const [stamped] = (await relay.sink.waitFor(before + 1)).slice(before)
    expect((await c.send("alice@acme.example", ["bob@acme.example"], stamped.raw)).code).toBe(250)
    c.end()
    const [again] = (await relay.sink.waitFor(before + 2)).slice(before + 1)
    // only a Received field in front: no second signature, no second stamp
    const added = again.raw.subarray(0, again.raw.length - stamped.raw.length).toString("latin1")
    expect(again.raw.subarray(added.length).equals(stamped.raw)).toBe(true)
    expect(added).toMatch(/^Received: from [^]*?\(Imprint\)[^]*? \+0000\r\n$/)
    expect(added).not.toMatch(/X-Imprint/)
  })

  it("relays unstamped for a sender who is not in the directory", async () => {
    const body = reply("stranger").replace("From: Alice <alice@acme.example>", "From: Dave <dave@acme.example>")
    await expectRelayedUnchanged("dave@acme.example", body)
  })

  it("relays unstamped and unchanged a message whose header block exceeds the peek limit (bounded hold)", async () => {
    const filler = `X-Filler: ${"h".repeat(998)}\r\n`.repeat(Math.ceil(HEADER_PEEK_LIMIT / 1000) + 5)
    const message = reply("big-header").replace("Subject: Re: figures\r\n", `Subject: Re: figures\r\n${filler}`)
    await expectRelayedUnchanged("alice@acme.example", message)
  })

  it("answers 451 when stamping breaks mid-stream, then relays the retry unstamped (fail-safe)", async () => {
    // a part header beyond the stamped path's named limit makes the MIME splitter fail
    const huge = `X-Filler: ${"a".repeat(998)}\r\n`.repeat(Math.ceil(MAX_PART_HEADER_BYTES / 1000) + 2)
    const message = [
      "From: Alice <alice@acme.example>",
      "Subject: broken part",
      "Message-ID: <failsafe-1@acme.example>",
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b"',
      "",
      "--b",
      "Content-Type: text/plain",
      "",
      "hello",
      "--b",
      "Content-Type: application/octet-stream",
      huge + "",
      "AAAA",
      "--b--",
      ""
    ].join("\r\n")
    await expect451ThenUnstampedRetry(message)
  })

  it("a body line longer than the stamped path's limit fails the stamped copy (451), and the retry is relayed unstamped and intact", async () => {
    // mailsplit joins the pieces of a line that spans TCP reads chunk by chunk: its cost grows with the square of the length
    const message = [
      "From: Alice <alice@acme.example>",
      "Subject: one long line",
      "Message-ID: <long-line-1@acme.example>",
      "MIME-Version: 1.0",
      "Content-Type: text/html; charset=us-ascii",
      "",
      `<p>${"x".repeat(3 * MAX_STAMPED_LINE_BYTES)}</p>`,
      ""
    ].join("\r\n")
    await expect451ThenUnstampedRetry(message)
  })

  it("a signed part met only after the stamped body left fails the copy (451); the retry is relayed unstamped, signature intact", async () => {
    const message = [
      "From: Alice <alice@acme.example>",
      "Subject: Re: release",
      "Message-ID: <late-signed-1@acme.example>",
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="outer"',
      "",
      "--outer",
      "Content-Type: text/plain; charset=us-ascii",
      "",
      ...Array.from({ length: 1200 }, (_, i) => `Release note line ${i}, long enough to fill the stamper's held window.`),
      "--outer",
      'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary="sig"',
      "",
      "--sig",
      "Content-Type: text/plain; charset=us-ascii",
      "",
      "signed text",
      "--sig",
      "Content-Type: application/pgp-signature",
      "",
      "-----BEGIN PGP SIGNATURE-----",
      "xyz",
      "-----END PGP SIGNATURE-----",
      "--sig--",
      "--outer--",
      ""
    ].join("\r\n")
    await expect451ThenUnstampedRetry(message)
  })
})

describe("per-recipient copies when the downstream refuses", () => {
  const relay = relayToSink({
    tenants: (port) => [signatureTenant(port)],
    sink: { rejectData: { code: 452, enhanced: "4.3.1", message: "insufficient storage" } }
  })

  it("answers the whole transaction with the refusal's class and code when the copies are refused", async () => {
    const c = await RawSmtp.connect(relay.imprint.port)
    const r = await c.send("alice@acme.example", ["bob@acme.example", "carol@customer.example"], reply("refused"))
    c.end()
    expect(r).toEqual({ code: 452, text: "4.3.1 insufficient storage" })
    expect(relay.sink.messages).toHaveLength(0)
    // both copies reached the downstream's DATA and were refused there
    expect(relay.sink.rejected).toBe(2)
  })
})
