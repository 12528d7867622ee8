import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ensureDemoTenant } from "../../src/demo/DemoMode.js"
import { DEMO_SENDER, DEMO_TENANT_ID, demoTenantFile } from "../../src/demo/DemoTenant.js"
import { sampleMessage } from "../../src/demo/SampleSender.js"
import { demoDirectory } from "../../src/signature/DemoContent.js"
import { TenantId } from "../../src/domain/Tenant.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { TempStorePath } from "../store/TempStore.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const TestLayer = Layer.mergeAll(TenantRepo.Default, Store.Default).pipe(Layer.provide(TempStorePath))
const demoId = TenantId.make(DEMO_TENANT_ID)

/** what a user does through the admin API between two starts: a changed template, a user fewer */
const editDemoTenant = Effect.gen(function* () {
  const repo = yield* TenantRepo
  const file = demoTenantFile() as { templates: Array<{ id: string; html: string }>; directory: Array<{ mail: string }> }
  yield* tenantImport(repo).importTenant({
    ...file,
    templates: file.templates.map((t) => (t.id === "standard" ? { ...t, html: "<p>{{displayName}}, edited</p>" } : t)),
    directory: file.directory.slice(1)
  })
})

const standardHtml = Effect.flatMap(TenantRepo, (repo) => repo.templates(demoId)).pipe(Effect.map((ts) => ts.find((t) => t.id === "standard")?.html))

describe("demo mode", () => {
  it.scoped("imports the demo tenant on the first start, keeps a user's changes on the next, restores it with --reset", () =>
    Effect.gen(function* () {
      expect(yield* ensureDemoTenant(false)).toBe("imported")
      const original = yield* standardHtml
      expect(original).toContain("{{displayName}}")
      yield* editDemoTenant
      expect(yield* ensureDemoTenant(false)).toBe("kept")
      expect(yield* standardHtml).toBe("<p>{{displayName}}, edited</p>")
      expect(yield* ensureDemoTenant(true)).toBe("reset")
      expect(yield* standardHtml).toBe(original)
      const exported = yield* Effect.flatMap(TenantRepo, (repo) => repo.exportTenant(demoId))
      expect(exported.directory).toHaveLength((demoTenantFile() as { directory: unknown[] }).directory.length)
    }).pipe(Effect.provide(TestLayer))
  )

  it("sends the sample with the From name the directory gives its sender", () => {
    expect("\r\n" + sampleMessage(DEMO_SENDER, "someone@example.org")).toContain(`\r\nFrom: ${demoDirectory[0].displayName} <${DEMO_SENDER}>\r\n`)
    expect("\r\n" + sampleMessage("support@demo.example", "someone@example.org")).toContain("\r\nFrom: Alice Martin <support@demo.example>\r\n")
    expect("\r\n" + sampleMessage("nobody@demo.example", "someone@example.org")).toContain("\r\nFrom: <nobody@demo.example>\r\n")
  })
})
