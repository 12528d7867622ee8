import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import * as ConnectorIndex from "../../src/actors/ConnectorIndex.js"
import { contains, parseAddress, parseCidr } from "../../src/domain/Cidr.js"
import { CidrConnector, Microsoft365Connector, Tenant, type TenantId } from "../../src/domain/Tenant.js"

const tenant = (id: string, cidrs: Array<string>) =>
  new Tenant({ id: id as TenantId, name: id, domains: [`${id}.example`], connectors: [new CidrConnector({ cidrs })] })

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))

describe("Cidr", () => {
  it("parses IPv4, IPv6, embedded IPv4 and bare addresses, and refuses the rest", () => {
    expect(parseCidr("10.0.0.0/8")?.prefix).toBe(104)
    expect(parseCidr("192.0.2.7")?.prefix).toBe(128)
    expect(parseCidr("2001:db8::/32")?.prefix).toBe(32)
    expect(parseCidr("::ffff:192.0.2.0/120")?.prefix).toBe(120)
    expect(parseCidr("0.0.0.0/0")?.prefix).toBe(96)
    for (const bad of ["10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "host.example/24", "10.0.0.0/8/8", "1.2.3.4/-1", "::g/64", ""]) {
      expect(parseCidr(bad), bad).toBeUndefined()
    }
  })

  it("clears host bits, so 10.1.2.3/8 is 10.0.0.0/8", () => {
    const cidr = parseCidr("10.1.2.3/8")!
    expect(contains(cidr, parseAddress("10.200.0.1")!)).toBe(true)
    expect(contains(cidr, parseAddress("11.0.0.1")!)).toBe(false)
  })

  it("reads an IPv4 address and its IPv4-mapped IPv6 form as the same address", () =>
    fc.assert(
      fc.property(ipv4, (a) => {
        expect(parseAddress(`::ffff:${a}`)).toEqual(parseAddress(a))
      })
    ))

  it("a range holds every address that shares its first prefix bits, and no other", () =>
    fc.assert(
      fc.property(ipv4, ipv4, fc.integer({ min: 0, max: 32 }), (net, addr, len) => {
        const toBits = (s: string) =>
          s
            .split(".")
            .map((o) => Number(o).toString(2).padStart(8, "0"))
            .join("")
        const expected = toBits(net).slice(0, len) === toBits(addr).slice(0, len)
        expect(contains(parseCidr(`${net}/${len}`)!, parseAddress(addr)!)).toBe(expected)
      })
    ))

  it("expands :: and leading zeros of IPv6 the same way", () => {
    expect(parseAddress("2001:0db8:0000:0000:0000:0000:0000:0001")).toEqual(parseAddress("2001:db8::1"))
    expect(parseAddress("fe80::1%eth0")).toEqual(parseAddress("fe80::1"))
    expect(parseAddress("::")).toEqual(new Uint8Array(16))
  })
})

describe("ConnectorIndex.matchSource", () => {
  it("prefers the longest prefix and reports a tie between tenants", () => {
    const index = ConnectorIndex.build([tenant("a", ["10.0.0.0/8"]), tenant("b", ["10.1.0.0/16"]), tenant("c", ["10.1.0.0/16"])], 1)
    expect(ConnectorIndex.matchSource(index, "10.9.9.9")).toEqual({ _tag: "Bound", tenantId: "a" })
    expect(ConnectorIndex.matchSource(index, "10.1.0.1")).toMatchObject({ _tag: "Tie", prefix: 112 })
    expect(ConnectorIndex.matchSource(index, "11.0.0.1")).toEqual({ _tag: "Unmatched" })
  })

  it("one tenant listing a range twice is not a tie", () => {
    const index = ConnectorIndex.build([tenant("a", ["10.0.0.0/8", "10.0.0.0/8"])], 1)
    expect(ConnectorIndex.matchSource(index, "10.0.0.1")).toEqual({ _tag: "Bound", tenantId: "a" })
  })
})

describe("ConnectorIndex.patch", () => {
  // the registry compares the index's revision with the store's: a patch that kept the old one
  // made every later lookup re-read every tenant written since the last full build
  it("carries the revision it was patched to", () => {
    const index = ConnectorIndex.build([tenant("a", ["10.0.0.0/8"])], 1)
    const patched = ConnectorIndex.patch(index, new Map([["b" as TenantId, tenant("b", ["10.1.0.0/16"])]]), 2)
    expect(patched.revision).toBe(2)
    expect(ConnectorIndex.matchSource(patched, "10.1.0.1")).toEqual({ _tag: "Bound", tenantId: "b" })
  })
})

describe("ConnectorIndex.selectBySender (issues 20, 21.1)", () => {
  const m365 = (id: string, suspended = false) =>
    new Tenant({
      id: id as TenantId,
      name: id,
      domains: [`${id}.example`],
      suspended,
      connectors: [new Microsoft365Connector({ tenantGuid: "6f5a3c1e-0b8d-4e2a-9c71-3d2b1a0f9e8d", domain: `${id}.onmicrosoft.com` })]
    })
  const index = ConnectorIndex.build(
    [tenant("a", ["10.0.0.0/24"]), tenant("b", ["10.0.0.0/24"]), tenant("c", ["10.0.0.0/16"]), m365("m"), m365("gone", true)],
    1
  )

  it("a shared range selects the owner of the sender's domain among the tenants sharing it", () => {
    const shared = ConnectorIndex.sourceBinding(index, "10.0.0.7")
    expect(shared).toEqual({ _tag: "SharedRange", tenantIds: ["a", "b"] })
    expect(ConnectorIndex.selectBySender(index, shared, "B.example")).toBe("b")
    expect(ConnectorIndex.selectBySender(index, shared, "a.example")).toBe("a")
    // c's range holds the address too, but a and b's is more specific
    expect(ConnectorIndex.selectBySender(index, shared, "c.example")).toBeUndefined()
    expect(ConnectorIndex.selectBySender(index, shared, "m.example")).toBeUndefined()
    expect(ConnectorIndex.sourceBinding(index, "10.0.9.9")).toEqual({ _tag: "Tenant", tenantId: "c" })
    expect(ConnectorIndex.sourceBinding(index, "10.1.0.1")).toEqual({ _tag: "Unbound" })
  })

  it("Exchange Online's gate selects only tenants with a microsoft365 connector, never a suspended one", () => {
    const gate = { _tag: "Microsoft365" } as const
    expect(ConnectorIndex.selectBySender(index, gate, "m.example")).toBe("m")
    expect(ConnectorIndex.selectBySender(index, gate, "a.example")).toBeUndefined()
    expect(ConnectorIndex.selectBySender(index, gate, "gone.example")).toBeUndefined()
    expect(ConnectorIndex.selectBySender(index, { _tag: "Unbound" }, "m.example")).toBeUndefined()
    expect(ConnectorIndex.selectBySender(index, { _tag: "Tenant", tenantId: "a" as TenantId }, "b.example")).toBe("a")
  })
})
