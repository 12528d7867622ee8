import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { TEST_STAMP_MAX_BYTES } from "../../src/admin/rules/PreviewApi.js"
import { LOOP_STAMP_HEADER } from "../../src/pipeline/headers/LoopStamp.js"
import { CORPUS_DIR } from "../support/Corpus.js"
import * as https from "node:https"
import { AdminEnv, adminTestLayer, apiClient, operatorClient, TestCert } from "./AdminHarness.js"
import { createContentTenant, memberClient } from "./ContentHarness.js"

const errorOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)
const field = (e: unknown, key: string) => (e as Record<string, unknown>)[key]
const corpus = (name: string) => new Uint8Array(fs.readFileSync(path.join(CORPUS_DIR, "messages", name)))
const count = (haystack: string, needle: string) => haystack.split(needle).length - 1
/** 7bit and quoted-printable bodies: enough to find ASCII text */
const readable = (message: string) => message.replace(/=\r\n/g, "").replace(/=3D/g, "=")

const SIGNATURE = "Alice Example | Engineer"

layer(adminTestLayer())("admin API: test stamp", (it) => {
  it.effect("a corpus reply (LF line ends) comes back stamped once per part, above the quote, with the decision", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-a", "100.64.0.0/28")
      const client = yield* operatorClient
      const upload = corpus("talon__tests_fixtures_standard_replies_gmail.eml")
      const result = yield* client.preview.testStamp({
        path: { tenantId: "ts-a" },
        urlParams: { sender: "alice@ts-a.example", recipients: "bob@ts-a.example" },
        payload: upload
      })
      expect(result.sender).toBe("alice@ts-a.example")
      expect(result.recipients).toEqual(["bob@ts-a.example"])
      expect(result.unstamped).toBeUndefined()
      expect(result.bytes).toBe(upload.length)
      expect(result.copies).toHaveLength(1)
      const [copy] = result.copies
      expect(copy.ruleIds).toEqual(["everyone"])
      expect([...copy.stamped].sort()).toEqual(["html", "text"])
      const message = readable(copy.message)
      expect(Buffer.from(copy.messageBase64, "base64").toString("utf8")).toBe(copy.message)
      // once in the HTML part, once in the text part; the HTML one carries the rule's marker once
      expect(count(message, SIGNATURE)).toBe(2)
      expect(count(message, `data-imprint-signature="everyone"`)).toBe(1)
      expect(message.indexOf("Hello")).toBeLessThan(message.indexOf(SIGNATURE))
      expect(message.indexOf(SIGNATURE)).toBeLessThan(message.indexOf("wrote:"))
      expect(message).toMatch(/\r\nX-Imprint-Rule: everyone\r\n/)
      expect(message).toContain(`${LOOP_STAMP_HEADER}: `)
      // the pipeline's output is CRLF throughout, though the upload was LF
      expect(/[^\r]\n/.test(copy.message)).toBe(false)
    })
  )

  it.effect("sender and recipients default to From, To and Cc; recipient groups become copies", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-h", "100.64.0.16/28")
      const client = yield* operatorClient
      const message = [
        "From: Alice <alice@ts-h.example>",
        "To: Bob <bob@ts-h.example>",
        "Cc: carol@customer.example",
        "Subject: numbers",
        "Message-ID: <h1@ts-h.example>",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "See attached.",
        ""
      ].join("\n")
      const result = yield* client.preview.testStamp({ path: { tenantId: "ts-h" }, urlParams: {}, payload: new TextEncoder().encode(message) })
      expect(result.sender).toBe("alice@ts-h.example")
      expect(result.recipients).toEqual(["bob@ts-h.example", "carol@customer.example"])
      const internal = result.copies.find((c) => c.recipients.includes("bob@ts-h.example"))!
      const external = result.copies.find((c) => c.recipients.includes("carol@customer.example"))!
      expect(internal.ruleIds).toEqual(["everyone"])
      expect(count(readable(internal.message), SIGNATURE)).toBe(1)
      expect(external.ruleIds).toEqual(["external"])
      expect(readable(external.message)).toContain("Confidential")
      expect(readable(external.message)).not.toContain(SIGNATURE)
    })
  )

  it.effect("messages that pass unstamped say why: signed, sender outside the tenant's domains, sender not in the directory", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-u", "100.64.0.32/28")
      const client = yield* operatorClient
      const stamp = (payload: Uint8Array, sender?: string) =>
        client.preview.testStamp({
          path: { tenantId: "ts-u" },
          urlParams: { ...(sender !== undefined ? { sender } : {}), recipients: "bob@ts-u.example" },
          payload
        })
      const signed = yield* stamp(corpus("flanker__tests_fixtures_messages_signed.eml"), "alice@ts-u.example")
      expect(signed.unstamped).toBe("signed")
      expect(signed.copies[0].stamped).toEqual([])
      expect(signed.copies[0].message).not.toContain(SIGNATURE)
      // the gmail reply's From is xxx@gmail.com: the relay would refuse that MAIL FROM for this tenant
      expect((yield* stamp(corpus("talon__tests_fixtures_standard_replies_gmail.eml"))).unstamped).toBe("sender-not-in-tenant-domains")
      expect((yield* stamp(corpus("talon__tests_fixtures_standard_replies_gmail.eml"), "zed@ts-u.example")).unstamped).toBe("sender-not-in-directory")
    })
  )

  it.effect("a test-stamped message uploaded again is not taken for one the relay stamped (throwaway stamp key)", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-l", "100.64.0.48/28")
      const client = yield* operatorClient
      const params = { sender: "alice@ts-l.example", recipients: "bob@ts-l.example" }
      const first = yield* client.preview.testStamp({
        path: { tenantId: "ts-l" },
        urlParams: params,
        payload: corpus("talon__tests_fixtures_standard_replies_gmail.eml")
      })
      const again = yield* client.preview.testStamp({
        path: { tenantId: "ts-l" },
        urlParams: params,
        payload: Buffer.from(first.copies[0].messageBase64, "base64")
      })
      expect(again.unstamped).toBeUndefined()
      // the stamper finds its own signature above the quote: no second one
      expect(again.copies[0].skipped).toBe("already-signed")
      expect(count(readable(again.copies[0].message), SIGNATURE)).toBe(2)
      // the first stamp was not valid for the relay, so it was replaced, not kept
      expect(count(again.copies[0].message, `${LOOP_STAMP_HEADER}:`)).toBe(1)
    })
  )

  it.effect("no recipients or no sender is 400 saying what to give", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-e", "100.64.0.64/28")
      const client = yield* operatorClient
      const noTo = new TextEncoder().encode("From: alice@ts-e.example\r\nSubject: x\r\n\r\nbody\r\n")
      const e1 = yield* errorOf(client.preview.testStamp({ path: { tenantId: "ts-e" }, urlParams: {}, payload: noTo }))
      expect(e1._tag).toBe("TestStampInvalid")
      expect(field(e1, "message")).toContain("?recipients=")
      const noFrom = new TextEncoder().encode("To: bob@ts-e.example\r\nSubject: x\r\n\r\nbody\r\n")
      const e2 = yield* errorOf(client.preview.testStamp({ path: { tenantId: "ts-e" }, urlParams: {}, payload: noFrom }))
      expect(e2._tag).toBe("TestStampInvalid")
      expect(field(e2, "message")).toContain("?sender=")
    })
  )

  it.effect(`an upload over ${TEST_STAMP_MAX_BYTES} bytes is 413 naming the limit`, () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-big", "100.64.0.80/28")
      const client = yield* operatorClient
      const big = new Uint8Array(TEST_STAMP_MAX_BYTES + 1).fill(0x61)
      const error = yield* errorOf(client.preview.testStamp({ path: { tenantId: "ts-big" }, urlParams: {}, payload: big }))
      expect(error._tag).toBe("UploadTooLarge")
      expect(field(error, "limit")).toBe(TEST_STAMP_MAX_BYTES)
      expect(field(error, "message")).toContain("25 MB")
    })
  )

  it.effect("a message the relay would refuse as a loop is a TestStampFailed naming the reason", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-loop", "100.64.0.144/28")
      const client = yield* operatorClient
      const looped = new TextEncoder().encode(
        `${"Received: from a by b; Mon, 7 Dec 2026 00:00:00 +0000\r\n".repeat(100)}From: alice@ts-loop.example\r\nSubject: x\r\n\r\nbody\r\n`
      )
      const error = yield* errorOf(
        client.preview.testStamp({
          path: { tenantId: "ts-loop" },
          urlParams: { sender: "alice@ts-loop.example", recipients: "bob@ts-loop.example" },
          payload: looped
        })
      )
      expect(error._tag).toBe("TestStampFailed")
      expect(field(error, "reason")).toBe("mail-loop")
      expect(field(error, "message")).toContain("100 Received headers")
    })
  )

  it.effect("a chunked upload (no Content-Length) is cut off at the limit with a 413 too", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-chunk", "100.64.0.128/28")
      const env = yield* AdminEnv
      const cert = yield* TestCert
      const answer = yield* Effect.async<{ status: number; body: string }, Error>((resume) => {
        const req = https.request(
          `${env.baseUrl}/tenants/ts-chunk/test-stamp?sender=alice@ts-chunk.example&recipients=bob@ts-chunk.example`,
          {
            method: "POST",
            ca: cert.cert,
            headers: { authorization: `Bearer ${env.token}`, "content-type": "message/rfc822", "transfer-encoding": "chunked" }
          },
          (res) => {
            let body = ""
            res
              .setEncoding("utf8")
              .on("data", (c: string) => (body += c))
              .on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
          }
        )
        req.on("error", (e) => resume(Effect.fail(e)))
        const chunk = Buffer.from(`${"a".repeat(76)}\r\n`.repeat(13_000))
        req.write("Subject: big\r\n\r\n")
        let sent = 0
        // bounded: the limit plus two chunks, written with backpressure
        const pump = () => {
          while (sent <= TEST_STAMP_MAX_BYTES + chunk.length) {
            sent += chunk.length
            if (!req.write(chunk)) return void req.once("drain", pump)
          }
          req.end()
        }
        pump()
      })
      expect(answer.status).toBe(413)
      expect(answer.body).toContain("UploadTooLarge")
    })
  )

  it.effect("roles: an auditor may not test-stamp, an editor may; no token is 401; another tenant is 404", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ts-r", "100.64.0.96/28")
      yield* createContentTenant("ts-r2", "100.64.0.112/28")
      const request = {
        path: { tenantId: "ts-r" },
        urlParams: { sender: "alice@ts-r.example", recipients: "bob@ts-r.example" },
        payload: corpus("talon__tests_fixtures_standard_replies_gmail.eml")
      }
      const auditor = yield* memberClient("ts-r", "auditor")
      expect((yield* errorOf(auditor.preview.testStamp(request)))._tag).toBe("Forbidden")
      const editor = yield* memberClient("ts-r", "editor")
      expect((yield* editor.preview.testStamp(request)).copies[0].ruleIds).toEqual(["everyone"])
      expect((yield* errorOf((yield* apiClient(undefined)).preview.testStamp(request)))._tag).toBe("Unauthorized")
      const outsider = yield* memberClient("ts-r2", "owner")
      expect((yield* errorOf(outsider.preview.testStamp(request)))._tag).toBe("TenantNotFound")
    })
  )
})
