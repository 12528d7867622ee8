import * as fs from "node:fs"
import { SMTPServer } from "smtp-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeSelfSigned } from "../../support/Certs.js"
import { RawSmtp } from "../../support/RawSmtp.js"

/** The behaviour patches/apply.mjs gives smtp-server; see patches/README.md. */
describe("patched smtp-server", () => {
  let server: SMTPServer
  let port: number

  beforeAll(async () => {
    const { key, cert } = await makeSelfSigned()
    server = new SMTPServer({
      key,
      cert,
      name: "patched.test",
      logger: false,
      disableReverseLookup: true,
      hideENHANCEDSTATUSCODES: false,
      allowInsecureAuth: false,
      authOptional: true,
      earlyTalkerDelayMs: 0,
      authMethods: ["PLAIN", "LOGIN"],
      onMailFrom(address, _session, done) {
        if (address.address.startsWith("grey")) {
          return done(Object.assign(new Error("greylisted"), { responseCode: 450, enhancedStatusCode: "4.7.1" }))
        }
        if (address.address.startsWith("plain")) return done(Object.assign(new Error("no"), { responseCode: 550 }))
        done()
      }
    } as ConstructorParameters<typeof SMTPServer>[0])
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    port = (server.server.address() as { port: number }).port
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it("sends the enhanced status code a handler error carries", async () => {
    const c = await RawSmtp.connect(port)
    expect(await c.command("MAIL FROM:<grey@a.example>")).toEqual({ code: 450, text: "4.7.1 greylisted" })
    c.end()
  })

  it("keeps the derived code for errors without one", async () => {
    const c = await RawSmtp.connect(port)
    expect(await c.command("MAIL FROM:<plain@a.example>")).toEqual({ code: 550, text: "5.1.1 no" })
    c.end()
  })

  it("advertises AUTH only after STARTTLS when insecure AUTH is off", async () => {
    const c = await RawSmtp.connect(port)
    expect(c.features).not.toMatch(/^AUTH/m)
    await c.starttls()
    expect((await c.command("EHLO client.test")).text).toMatch(/^AUTH PLAIN LOGIN$/m)
    c.end()
  })

  it("reads the greeting delay from the earlyTalkerDelayMs option", () => {
    for (const flavour of ["esm", "cjs"]) {
      const source = fs.readFileSync(`node_modules/smtp-server/dist/${flavour}/smtp-connection.js`, "utf8")
      expect(source).toContain("/* imprint-patch:early-talker-delay */ (this._server.options.earlyTalkerDelayMs ?? 100)")
    }
  })
})
