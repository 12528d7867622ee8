import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import sharp from "sharp"
import { PreviewRequest } from "../../src/admin/rules/PreviewApi.js"
import { decodePhotoText } from "../../src/directory/ImportPhotos.js"
import { parseDirectoryCsv } from "../../src/directory/CsvImport.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import * as Keys from "../../src/store/Keys.js"
import { Db } from "../../src/store/Keys.js"
import { Store } from "../../src/store/Store.js"
import { testPng } from "../support/Images.js"
import { adminTestLayer, operatorClient } from "./AdminHarness.js"
import { createContentTenant } from "./ContentHarness.js"

/** Photos in directory imports (issue 17 item 3), and the preview showing them. */

const PHOTO_SIG = '<p>{{#photo}}<img src="{{photo}}" width="48" height="48" alt="">{{/photo}}{{displayName}}</p>'

const photoBlobs = (tenantId: string) => Effect.flatMap(Store, (s) => s.keys(Db.photoBlobs, Keys.photoBlobPrefix(tenantId as TenantId)))

describe("photo column values", () => {
  it("base64 and data: URLs decode; URLs, plain text and non-base64 data URLs are refused with a reason", () => {
    const png = testPng(4, 4)
    expect(Buffer.from(decodePhotoText(png.toString("base64")) as Uint8Array).equals(png)).toBe(true)
    expect(Buffer.from(decodePhotoText(`data:image/png;base64,${png.toString("base64")}`) as Uint8Array).equals(png)).toBe(true)
    // line-wrapped base64, as spreadsheets and LDIF exports write it
    expect(Buffer.from(decodePhotoText(png.toString("base64").replace(/.{20}/g, "$&\n")) as Uint8Array).equals(png)).toBe(true)
    expect(decodePhotoText("https://intranet.example/ann.jpg")).toMatch(/not fetched/)
    expect(decodePhotoText("data:image/png,rawbytes")).toMatch(/must be base64/)
    expect(decodePhotoText("not base64!")).toMatch(/not base64/)
  })

  it("a CSV photo column is kept apart from the attributes, by mail", () => {
    const parsed = parseDirectoryCsv("mail,displayName,photo\nann@x.example,Ann,QUJD\nbob@x.example,Bob,\n")
    expect(parsed.users.map((u) => u.mail)).toEqual(["ann@x.example", "bob@x.example"])
    expect([...parsed.photos!]).toEqual([["ann@x.example", { row: 2, text: "QUJD" }]])
  })
})

layer(adminTestLayer())("admin API: directory photos", (it) => {
  it.effect("a CSV import stores each photo as a 96×96 JPEG; a bad photo rejects its row; the preview shows the photo as a data: URL", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ph-csv", "192.0.2.112/28")
      const client = yield* operatorClient
      const path = { tenantId: "ph-csv" }
      const csv = [
        "mail,displayName,title,photo",
        `alice@ph-csv.example,Alice Example,Engineer,${testPng(200, 150).toString("base64")}`,
        "bob@ph-csv.example,Bob Example,Sales,",
        `carol@ph-csv.example,Carol Example,Legal,${Buffer.from("<svg onload=alert(1)/>").toString("base64")}`
      ].join("\n")
      const report = yield* client.directory.importCsv({ path, urlParams: {}, payload: csv })
      expect(report).toMatchObject({ accepted: 2, rejectedCount: 1 })
      expect(report.rejected[0]).toMatchObject({ row: 4, mail: "carol@ph-csv.example" })
      expect(report.rejected[0]!.reason).toMatch(/^photo: SVG and other markup are refused/)
      const alice = yield* client.directory.get({ path: { ...path, mail: "alice@ph-csv.example" } })
      expect(alice.photo).toMatchObject({ width: 96, height: 96 })
      expect((yield* client.directory.get({ path: { ...path, mail: "bob@ph-csv.example" } })).photo).toBeUndefined()
      expect(yield* photoBlobs("ph-csv")).toHaveLength(1)

      // a PUT of other attributes keeps the photo
      yield* client.directory.put({ path: { ...path, mail: "alice@ph-csv.example" }, payload: { ...alice, title: "Lead" } as never })
      expect((yield* client.directory.get({ path: { ...path, mail: "alice@ph-csv.example" } })).photo).toEqual(alice.photo)

      yield* client.templates.replace({ path: { ...path, templateId: "sig" }, payload: { name: "Signature", html: PHOTO_SIG, text: "{{displayName}}" } })
      const preview = (sender: string) =>
        client.preview
          .preview({
            path,
            payload: Schema.decodeUnknownSync(PreviewRequest)({ sender, recipients: ["bob@ph-csv.example"] })
          })
          .pipe(Effect.map((a) => a.groups[0]!.html))
      const shown = yield* preview("alice@ph-csv.example")
      const dataUrl = /<img src="data:image\/jpeg;base64,([^"]+)" width="48" height="48" alt>/.exec(shown)
      expect(dataUrl).not.toBeNull()
      const meta = yield* Effect.promise(() => sharp(Buffer.from(dataUrl![1]!, "base64")).metadata())
      expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 96, 96])
      // the render of one template for one user shows it the same way
      const rendered = yield* client.templates.render({ path: { ...path, templateId: "sig" }, payload: { mail: "alice@ph-csv.example" } })
      expect(rendered.html).toContain(`<img src="data:image/jpeg;base64,${dataUrl![1]!}" width="48" height="48" alt>`)
      const none = yield* preview("bob@ph-csv.example")
      expect(none).toContain("<p>Bob Example</p>")
      expect(none).not.toContain("<img")
    })
  )

  it.effect("a JSON import takes data: URLs; importing the same photo again keeps it; a replace without it sweeps the bytes", () =>
    Effect.gen(function* () {
      yield* createContentTenant("ph-json", "192.0.2.128/28")
      const client = yield* operatorClient
      const path = { tenantId: "ph-json" }
      const photo = `data:image/png;base64,${testPng(60, 90, "#e01b24").toString("base64")}`
      const users = [
        { mail: "alice@ph-json.example", displayName: "Alice", photo },
        { mail: "bob@ph-json.example", displayName: "Bob" }
      ]
      expect(yield* client.directory.importJson({ path, urlParams: {}, payload: users })).toMatchObject({ accepted: 2, rejectedCount: 0 })
      const first = (yield* client.directory.get({ path: { ...path, mail: "alice@ph-json.example" } })).photo!
      expect(first.source).toMatch(/^sha256:/)
      expect(yield* client.directory.importJson({ path, urlParams: {}, payload: users })).toMatchObject({ accepted: 2 })
      expect((yield* client.directory.get({ path: { ...path, mail: "alice@ph-json.example" } })).photo).toEqual(first)

      const wrong = yield* client.directory.importJson({ path, urlParams: {}, payload: [{ mail: "dan@ph-json.example", photo: 12 }] })
      expect(wrong.rejected[0]!.reason).toMatch(/photo must be a string/)

      yield* client.directory.importJson({ path, urlParams: { mode: "replace" }, payload: [{ mail: "alice@ph-json.example", displayName: "Alice" }] })
      expect((yield* client.directory.get({ path: { ...path, mail: "alice@ph-json.example" } })).photo).toBeUndefined()
      expect(yield* photoBlobs("ph-json")).toEqual([])
    })
  )
})
