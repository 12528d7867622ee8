/**
 * Issue 13 item 14 end to end: a tenant's downstream password never reaches
 * the LMDB file in plaintext, yet the relay authenticates downstream with it;
 * a plaintext record left by an older version still relays and is sealed at
 * the next start.
 */
import { Effect, Option } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Downstream, Tenant, type TenantId } from "../../src/domain/Tenant.js"
import { Db, TENANT_KEY_ROOT, tenantKey } from "../../src/store/Keys.js"
import { decodeKey, DEFAULT_KEY_FILE, open } from "../../src/store/SecretCipher.js"
import { Store } from "../../src/store/Store.js"
import { downstreamPassAad } from "../../src/store/TenantSecrets.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { loopbackTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

const PASSWORD = "relay-down-S3cret-at-rest"
const message = (subject: string) =>
  `From: alice@acme.example\r\nTo: bob@customer.example\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@acme.example>\r\n\r\nHello.\r\n`

let sink: Sink | undefined
let imprint: RunningImprint | undefined
let dataDir: string | undefined

afterEach(async () => {
  await imprint?.close()
  await sink?.close()
  if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true })
  imprint = sink = dataDir = undefined
})

const send = async (port: number, subject: string) => {
  const c = await RawSmtp.connect(port)
  const reply = await c.send("alice@acme.example", ["bob@customer.example"], message(subject))
  await c.quit()
  return reply
}

const lmdbFileBytes = (dir: string) =>
  fs
    .readdirSync(path.join(dir, "lmdb"))
    .map((f) => fs.readFileSync(path.join(dir, "lmdb", f)).toString("latin1"))
    .join("")

const storedTenantBytes = (relay: RunningImprint) =>
  relay
    .use(Effect.flatMap(Store, (store) => store.rawEntries(Db.tenants, TENANT_KEY_ROOT)))
    .then((entries) => entries.map((e) => Buffer.from(e.bytes).toString("latin1")).join(""))

describe("downstream password at rest", () => {
  it("is sealed in the LMDB file and still authenticates downstream", async () => {
    sink = await startSink({ starttls: false, auth: { user: "relay", pass: PASSWORD } })
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-secrets-"))
    imprint = await startImprint({
      dataDir,
      tenants: [loopbackTenant(sink.port, { downstream: { host: "127.0.0.1", port: sink.port, tls: "none", auth: { user: "relay", pass: PASSWORD } } })]
    })
    expect((await send(imprint.port, "one")).code).toBe(250)
    await sink.waitFor(1)
    expect(sink.messages[0].user).toBe("relay")
    // sealed with the key of the data folder (the server's configured key), not a key of the process
    const stored = await imprint.use(Effect.flatMap(Store, (store) => store.get(Db.tenants, Tenant, tenantKey("acme" as TenantId))))
    const sealed = Option.getOrThrow(stored).downstream!.auth!.pass
    const fileKey = decodeKey(fs.readFileSync(path.join(dataDir, DEFAULT_KEY_FILE), "utf8"))
    expect(open({ current: fileKey, previous: [] }, downstreamPassAad("acme"), sealed)).toBe(PASSWORD)
    await imprint.close()
    const file = lmdbFileBytes(dataDir)
    expect(file).toContain("aesgcm:v1:")
    expect(file).not.toContain(PASSWORD)
  })

  it("a plaintext record from an older version still relays, and the next start seals it", async () => {
    sink = await startSink({ starttls: false, auth: { user: "relay", pass: PASSWORD } })
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-secrets-"))
    const first = await startImprint({ dataDir, tenants: [loopbackTenant(sink.port)] })
    // what an older version wrote: the plain schema, the password as given
    await first.use(
      Effect.gen(function* () {
        const tenant = Option.getOrThrow(yield* (yield* TenantRepo).getTenant("acme" as TenantId))
        const legacy = new Tenant({ ...tenant, downstream: new Downstream({ ...tenant.downstream!, auth: { user: "relay", pass: PASSWORD } }) })
        yield* (yield* Store).put(Db.tenants, Tenant, tenantKey("acme" as TenantId), legacy)
      })
    )
    expect(await storedTenantBytes(first)).toContain(PASSWORD)
    expect((await send(first.port, "legacy")).code).toBe(250)
    await first.close()
    imprint = await startImprint({ dataDir })
    expect(await storedTenantBytes(imprint)).not.toContain(PASSWORD)
    expect((await send(imprint.port, "resealed")).code).toBe(250)
    await sink.waitFor(2)
    expect(sink.messages.map((m) => m.user)).toEqual(["relay", "relay"])
  })
})
