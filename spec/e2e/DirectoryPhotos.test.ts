/**
 * Issue 17 item 3 through the real relay: a sender whose directory entry has
 * a photo gets it in the stamped signature as an inline related part the
 * HTML references (96×96 JPEG, the stored bytes); a sender without one gets
 * the same signature with no image and no part. Hosted: the HTML points at
 * the image listener, which serves the photo.
 */
import { Effect } from "effect"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import { DirectoryUser } from "../../src/domain/Directory.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { makePhotoRepo } from "../../src/store/PhotoRepo.js"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { stripImprintHeaders } from "../support/Corpus.js"
import { fetchImage, hostedImagesConfig, mimeFacts } from "../support/ImageMail.js"
import { testPng } from "../support/Images.js"
import { loopbackTenant, relayToSink, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { transferDecode } from "../pipeline/mime/MimeHarness.js"
import { normalisePhoto } from "../../src/images/PhotoNormaliser.js"

const photoTenant = (port: number) =>
  loopbackTenant(port, {
    templates: [
      {
        id: "sig",
        name: "Signature",
        html: '<table><tr><td>{{#photo}}<img src="{{photo}}" width="64" height="64" alt="{{displayName}}" style="border-radius: 32px">{{/photo}}</td><td><b>{{displayName}}</b> | {{title}}</td></tr></table>'
      }
    ],
    rules: [{ id: "everyone", name: "Everyone", templateId: "sig" }],
    directory: [
      { mail: "alice@acme.example", displayName: "Alice Example", title: "Engineer" },
      { mail: "bob@acme.example", displayName: "Bob Example", title: "Sales" }
    ]
  })

/** Gives alice a photo, as a sync or an import would: the blob stored, then her entry naming it. */
const givePhoto = (imprint: RunningImprint, input: Buffer) =>
  imprint.use(
    Effect.gen(function* () {
      const photos = yield* makePhotoRepo
      const photo = yield* photos.save("acme" as TenantId, yield* normalisePhoto(input), "spec")
      const actor = yield* Effect.flatMap(TenantRegistry, (r) => r.actor("acme" as TenantId))
      yield* actor.applyDirectoryDelta({
        upsert: [new DirectoryUser({ mail: "alice@acme.example", displayName: "Alice Example", title: "Engineer", photo })],
        remove: []
      })
      return photo
    })
  )

const message = (from: string, id: string) =>
  [
    `From: ${from}`,
    "To: client@customer.example",
    "Subject: hello",
    `Message-ID: <${id}@acme.example>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="alt"',
    "",
    "--alt",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Hello there",
    "",
    "--alt",
    "Content-Type: text/html; charset=utf-8",
    "",
    "<html><body><p>Hello there</p></body></html>",
    "",
    "--alt--",
    ""
  ].join("\r\n")

const send = async (relay: ReturnType<typeof relayToSink>, from: string, id: string) => {
  const before = relay.sink.messages.length
  const c = await RawSmtp.connect(relay.imprint.port)
  expect((await c.send(from, ["client@customer.example"], message(from, id))).code).toBe(250)
  c.end()
  const [got] = (await relay.sink.waitFor(before + 1)).slice(before)
  return mimeFacts(stripImprintHeaders(got!.raw))
}

describe("directory photos, embedded", () => {
  const relay = relayToSink({ tenants: (port) => [photoTenant(port)] })

  it("the sender's photo travels as an inline related part the signature shows; a sender without one gets no image", async () => {
    const photo = await givePhoto(relay.imprint, testPng(400, 300, "#26a269"))
    const alice = await send(relay, "alice@acme.example", "p-1")
    expect(alice.images.size).toBe(1)
    const [cid, part] = [...alice.images][0]!
    expect(alice.html).toContain(`<img src="cid:${cid}" width="64" height="64" alt="Alice Example"`)
    expect(part.node.contentType).toBe("image/jpeg")
    expect(part.node.disposition).toBe("inline")
    expect(alice.attachments).toEqual([])
    const bytes = transferDecode(part)
    expect(bytes.length).toBe(photo.bytes)
    const meta = await sharp(bytes).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 96, 96])

    const bob = await send(relay, "bob@acme.example", "p-2")
    expect(bob.html).toContain("<b>Bob Example</b> | Sales")
    expect(bob.html).not.toContain("<img")
    expect(bob.images.size).toBe(0)
    expect(bob.parts.map((p) => p.node.contentType)).not.toContain("multipart/related")
  })
})

describe("directory photos, hosted", async () => {
  const hosted = await hostedImagesConfig()
  const relay = relayToSink({ tenants: (port) => [photoTenant(port)], config: hosted.config })

  it("the signature points at the image listener, which serves the photo; the message carries no image part", async () => {
    const photo = await givePhoto(relay.imprint, testPng(120, 120, "#1a5fb4"))
    const alice = await send(relay, "alice@acme.example", "p-3")
    expect(alice.images.size).toBe(0)
    const src = /<img src="([^"]+)"/.exec(alice.html)![1]!
    expect(src).toBe(`${hosted.baseUrl}/i/acme/${photo.sha256}.jpg`)
    const answer = await fetchImage(src, hosted.ca)
    expect(answer.status).toBe(200)
    expect(answer.type).toBe("image/jpeg")
    expect(answer.body.length).toBe(photo.bytes)
  })
})
