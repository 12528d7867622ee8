import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Schema, Scope, TestClock } from "effect"
import { PreviewResult } from "../../src/domain/RulesPreview.js"
import * as TenantActor from "../../src/actors/TenantActor.js"
import { DirectoryUser } from "../../src/domain/Directory.js"
import { SignatureDecision } from "../../src/domain/Signature.js"
import { Template } from "../../src/domain/Template.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { MARKER_ATTRIBUTE, NoSignatureReasons } from "../../src/signature/SignatureResolver.js"
import { Db, templateKey, userKey } from "../../src/store/Keys.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
// the store may be armed to die on its next write (injectDefect); otherwise it is the real one
import { FaultyRepoLayer as RepoLayer, injectDefect } from "./ActorTestLayer.js"
import { element, envelope, groupRules, header, signatureFile } from "./SignatureFixtures.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const acme = "acme" as TenantId

const started = Effect.gen(function* () {
  const repo = yield* TenantRepo
  yield* tenantImport(repo).importTenant(signatureFile())
  return yield* TenantActor.make(acme)
})

describe("TenantActor: ResolveSignature", () => {
  it.scoped("stamps a directory user found by an alias, per recipient group, with HTML, text and marker", () =>
    Effect.gen(function* () {
      const actor = yield* started
      const d = yield* actor.resolveSignature(envelope("<ALLY@acme-mail.example>"), header())
      expect(groupRules(d)).toEqual([
        [["bob@acme.example"], ["sig"]],
        [["client@customer.example"], ["sig", "disc"]]
      ])
      const sig = element(d, "sig")
      expect(sig.html).toBe(`<div ${MARKER_ATTRIBUTE}="sig"><p><b>Alice</b></p></div>`)
      expect(sig.html).toContain(sig.marker)
      expect(sig.text).toBe("Alice")
      expect(element(d, "disc")).toMatchObject({ text: "Confidential.", position: "bottom" })
      if (d._tag === "Stamp") expect(d.skipIfPresent).toEqual(["-- sent from Acme"])
      // the answer is a valid contract value, as it would cross a wire
      expect(Schema.decodeUnknownSync(SignatureDecision)(Schema.encodeSync(SignatureDecision)(d))).toEqual(d)
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("says why there is no signature: sender not in the directory, null sender, no recipients", () =>
    Effect.gen(function* () {
      const actor = yield* started
      expect(yield* actor.resolveSignature(envelope("mallory@acme.example"), header())).toMatchObject({
        _tag: "NoSignature",
        reason: NoSignatureReasons.senderNotInDirectory
      })
      expect(yield* actor.resolveSignature(envelope(""), header())).toMatchObject({ reason: NoSignatureReasons.nullSender })
      expect(yield* actor.resolveSignature(envelope("bob@acme.example", []), header())).toMatchObject({ reason: NoSignatureReasons.noRecipients })
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a re-imported template applies to the next resolve, even when its version stayed the same", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const actor = yield* started
      const before = yield* actor.resolveSignature(envelope("bob@acme.example"), header())
      expect(element(before, "sig").text).toBe("Bob, Engineer")
      yield* actor.resolveSignature(envelope("bob@acme.example"), header())
      const warm = yield* actor.renderCacheStats
      expect(warm.hits).toBeGreaterThan(0)

      const file = signatureFile()
      yield* tenantImport(repo).importTenant({
        ...file,
        templates: file.templates!.map((t) => (t.id === "sig" ? { ...t, html: "<p>New: {{displayName}}</p>" } : t))
      })
      const after = yield* actor.resolveSignature(envelope("bob@acme.example"), header())
      expect(element(after, "sig").text).toBe("New: Bob")
      const cold = yield* actor.renderCacheStats
      expect(cold.misses).toBeGreaterThan(warm.misses)
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a template written to the store with a new version applies to the next resolve", () =>
    Effect.gen(function* () {
      const store = yield* Store
      const actor = yield* started
      expect(element(yield* actor.resolveSignature(envelope("alice@acme.example"), header()), "sig").text).toBe("Alice")
      yield* store.put(
        Db.templates,
        Template,
        templateKey(acme, "sig"),
        new Template({ id: "sig", name: "Signature", html: "<p>{{displayName}} (v2)</p>", version: 2 })
      )
      expect(element(yield* actor.resolveSignature(envelope("alice@acme.example"), header()), "sig").text).toBe("Alice (v2)")
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a changed directory entry misses the render cache; an unchanged one hits it", () =>
    Effect.gen(function* () {
      const actor = yield* started
      yield* actor.resolveSignature(envelope("bob@acme.example"), header())
      const first = yield* actor.renderCacheStats
      yield* actor.resolveSignature(envelope("bob@acme.example"), header())
      const second = yield* actor.renderCacheStats
      expect(second.misses).toBe(first.misses)
      // three elements (sig in both groups, disc in the external one), all from the cache now
      expect(second.hits).toBe(first.hits + 3)

      yield* actor.applyDirectoryDelta({
        upsert: [new DirectoryUser({ mail: "bob@acme.example", displayName: "Robert", title: "Engineer", mobile: "+1 555 0100" })],
        remove: []
      })
      const d = yield* actor.resolveSignature(envelope("bob@acme.example"), header())
      expect(element(d, "sig").text).toBe("Robert, Engineer M: +1 555 0100")
      expect((yield* actor.renderCacheStats).misses).toBeGreaterThan(second.misses)
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a directory entry written straight to the store applies to the next resolve (no stale decoded entry)", () =>
    Effect.gen(function* () {
      const store = yield* Store
      const actor = yield* started
      expect(element(yield* actor.resolveSignature(envelope("bob@acme.example"), header()), "sig").text).toBe("Bob, Engineer")
      expect(element(yield* actor.resolveSignature(envelope("bob@acme.example"), header()), "sig").text).toBe("Bob, Engineer")
      yield* store.put(
        Db.users,
        DirectoryUser,
        userKey(acme, "bob@acme.example"),
        new DirectoryUser({ mail: "bob@acme.example", displayName: "Bob", title: "Architect" })
      )
      expect(element(yield* actor.resolveSignature(envelope("bob@acme.example"), header()), "sig").text).toBe("Bob, Architect")
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("ReplaceDirectory and ApplyDirectoryDelta change who is stamped, from the next request on", () =>
    Effect.gen(function* () {
      const actor = yield* started
      yield* actor.replaceDirectory([new DirectoryUser({ mail: "Zoe@acme.example", displayName: "Zoe", proxyAddresses: ["smtp:z@acme-mail.example"] })])
      expect(yield* actor.resolveSignature(envelope("alice@acme.example"), header())).toMatchObject({ reason: NoSignatureReasons.senderNotInDirectory })
      expect(element(yield* actor.resolveSignature(envelope("Z@ACME-MAIL.example"), header()), "sig").text).toBe("Zoe")

      yield* actor.applyDirectoryDelta({
        upsert: [new DirectoryUser({ mail: "yan@acme.example", displayName: "Yan", proxyAddresses: ["SMTP:yan@acme.example", "smtp:y@acme.example"] })],
        remove: ["ZOE@acme.example"]
      })
      expect(yield* actor.resolveSignature(envelope("z@acme-mail.example"), header())).toMatchObject({ reason: NoSignatureReasons.senderNotInDirectory })
      expect(element(yield* actor.resolveSignature(envelope("Y@acme.example"), header()), "sig").text).toBe("Yan")
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a directory write for a removed tenant fails with TenantNotFound", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const actor = yield* started
      yield* repo.removeTenant(acme)
      expect((yield* Effect.flip(actor.replaceDirectory([])))._tag).toBe("TenantNotFound")
      expect((yield* Effect.flip(actor.resolveSignature(envelope("alice@acme.example"), header())))._tag).toBe("TenantNotFound")
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a date-window rule turns on and off as the clock moves (TestClock)", () =>
    Effect.gen(function* () {
      const actor = yield* started
      const rulesNow = Effect.map(actor.resolveSignature(envelope("alice@acme.example", ["bob@acme.example"]), header()), groupRules)
      expect(yield* rulesNow).toEqual([[["bob@acme.example"], ["sig"]]])
      // small steps: the store's change poller wakes every second of test time
      yield* TestClock.adjust(Duration.seconds(90)) // 1970-01-01T00:01:30Z = 09:01:30 in Tokyo, inside the window
      expect(yield* rulesNow).toEqual([[["bob@acme.example"], ["sig", "banner"]]])
      yield* TestClock.adjust(Duration.seconds(60)) // 09:02:30 in Tokyo, past its end
      expect(yield* rulesNow).toEqual([[["bob@acme.example"], ["sig"]]])
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a restart after a defect serves what the store holds, with the templates compiled again", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const actor = yield* started
      yield* Effect.flip(injectDefect(actor))
      const file = signatureFile()
      yield* tenantImport(repo).importTenant({
        ...file,
        templates: file.templates!.map((t) => (t.id === "sig" ? { ...t, html: "<p>After crash: {{displayName}}</p>", version: 7 } : t))
      })
      const waiting = yield* Effect.fork(actor.resolveSignature(envelope("alice@acme.example"), header()))
      yield* TestClock.adjust(TenantActor.RESTART_BASE_DELAY)
      expect(element(yield* Fiber.join(waiting), "sig").text).toBe("After crash: Alice")
      expect(yield* actor.restarts).toBe(1)
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a stored template that does not compile is left out: its rules do not match, the actor keeps serving", () =>
    Effect.gen(function* () {
      const store = yield* Store
      const actor = yield* started
      // written past the import validation, as an older version or a hand edit could have
      yield* store.put(Db.templates, Template, templateKey(acme, "sig"), new Template({ id: "sig", name: "Broken", html: "<p>{{#mobile}}</p>", version: 2 }))
      const d = yield* actor.resolveSignature(envelope("alice@acme.example"), header())
      expect(groupRules(d)).toEqual([
        [["bob@acme.example"], []],
        [["client@customer.example"], ["disc"]]
      ])
      expect(yield* actor.restarts).toBe(0)
      const preview = yield* actor.previewRules({ sender: "alice@acme.example", recipients: ["bob@acme.example"], subject: "Hi" })
      expect(preview.recipients[0]!.outcomes[0]!.summary).toBe('skipped: template "sig" does not exist')
    }).pipe(Effect.provide(RepoLayer))
  )
})

describe("TenantActor: PreviewRules", () => {
  it.scoped("says which rule wins per recipient and why the others did not, with the rendered result", () =>
    Effect.gen(function* () {
      const actor = yield* started
      const p = yield* actor.previewRules({
        sender: "ally@acme-mail.example",
        recipients: ["bob@acme.example", "client@customer.example"],
        subject: "Re: Offer"
      })
      expect(p.kind).toBe("reply")
      expect(p.recipients.map((r) => [r.recipient, r.applied])).toEqual([
        ["bob@acme.example", ["sig"]],
        ["client@customer.example", ["sig", "disc"]]
      ])
      expect(p.recipients[0]!.outcomes.map((o) => o.summary)).toEqual([
        "applied",
        expect.stringMatching(/^skipped: condition dateWindow not met/),
        "skipped: condition recipientScope not met (recipient bob@acme.example is internal)"
      ])
      expect(element(p.decision, "sig").text).toBe("Alice")
      expect(
        (yield* actor.previewRules({ sender: "x@acme.example", recipients: ["bob@acme.example"], subject: "Hi", kind: "forward" })).decision
      ).toMatchObject({ reason: NoSignatureReasons.senderNotInDirectory })
      // serialisable for the admin API
      expect(Schema.decodeUnknownSync(PreviewResult)(Schema.encodeSync(PreviewResult)(p))).toEqual(p)
    }).pipe(Effect.provide(RepoLayer))
  )
})

describe("TenantActor: mailbox", () => {
  it.scoped("stopping the actor fails the requests still waiting for it", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(signatureFile())
      const scope = yield* Scope.make()
      const actor = yield* TenantActor.make(acme).pipe(Scope.extend(scope))
      // the loop now waits RESTART_BASE_DELAY (TestClock) before serving again
      yield* Effect.flip(injectDefect(actor))
      const waiting = yield* Effect.fork(actor.resolveSignature(envelope("alice@acme.example"), header()))
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      expect(actor.inFlight()).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Effect.flip(Fiber.join(waiting))).toMatchObject({ _tag: "TenantActorUnavailable", reason: "stopped" })
      expect(actor.inFlight()).toBe(0)
    }).pipe(Effect.provide(RepoLayer))
  )
})
