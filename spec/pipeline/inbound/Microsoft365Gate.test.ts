import { describe, expect, it } from "vitest"
import { Microsoft365Settings } from "../../../src/config.js"
import { certificateNames, Microsoft365Gate } from "../../../src/pipeline/inbound/Microsoft365Gate.js"

/** The shape TLSSocket.getPeerCertificate() reports for Exchange Online's client certificate. */
const exchangeCertificate = {
  subject: { CN: "mail.protection.outlook.com", O: "Microsoft Corporation" },
  subjectaltname: "DNS:mail.protection.outlook.com, DNS:*.mail.protection.outlook.com, DNS:*.mail.eo.outlook.com"
} as const

describe("Microsoft365Gate", () => {
  it("passes Microsoft's published ranges by default, IPv4, IPv4-mapped and IPv6", () => {
    const gate = new Microsoft365Gate(Microsoft365Settings.make({}))
    expect(gate.addressPasses("40.107.22.5")).toBe(true)
    expect(gate.addressPasses("::ffff:104.47.10.1")).toBe(true)
    expect(gate.addressPasses("2a01:111:f403:2612::1")).toBe(true)
    expect(gate.addressPasses("104.47.200.1")).toBe(false)
    expect(gate.addressPasses("127.0.0.1")).toBe(false)
  })

  it("takes a certificate only with a verified chain and one of the configured names", () => {
    const gate = new Microsoft365Gate(Microsoft365Settings.make({}))
    expect(certificateNames(exchangeCertificate)).toContain("mail.protection.outlook.com")
    expect(gate.certificatePasses({ authorized: true, certificate: exchangeCertificate })).toBe(true)
    expect(gate.certificatePasses({ authorized: false, certificate: exchangeCertificate })).toBe(false)
    expect(gate.certificatePasses({ authorized: true, certificate: { subject: { CN: "mx.example" } as never, subjectaltname: "DNS:mx.example" } })).toBe(false)
    expect(gate.certificatePasses({ authorized: true, certificate: undefined })).toBe(false)
  })

  it("either gate by default, both with requireCertificate", () => {
    const either = new Microsoft365Gate(Microsoft365Settings.make({}))
    const both = new Microsoft365Gate(Microsoft365Settings.make({ requireCertificate: true }))
    expect([either.passes(true, false), either.passes(false, true), either.passes(false, false)]).toEqual([true, true, false])
    expect([both.passes(true, false), both.passes(false, true), both.passes(true, true)]).toEqual([false, false, true])
  })
})
