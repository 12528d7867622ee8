import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { GRAPH_DEFAULT_MAPPING, LDAP_DEFAULT_MAPPING, MAX_VALUE_LENGTH, mapRecord, mergeMapping } from "../../src/sync/AttributeMapping.js"
import type { SourceChange } from "../../src/sync/DirectorySource.js"

const upserted = (change: SourceChange) => {
  if (change._tag !== "Upsert") throw new Error(`expected an Upsert, got ${JSON.stringify(change)}`)
  return change.user
}

describe("AttributeMapping", () => {
  it("maps a Graph user with its Graph names, trimming values and taking the first business phone", () => {
    const user = upserted(
      mapRecord(
        {
          mail: " ada@contoso.com ",
          displayName: "Ada Lovelace",
          givenName: "Ada",
          surname: "Lovelace",
          jobTitle: "  Engineer ",
          department: "R&D",
          companyName: "Contoso",
          businessPhones: ["+1 555 0100", "+1 555 0101"],
          mobilePhone: "+1 555 0199",
          officeLocation: "B2",
          city: "London",
          country: "UK",
          proxyAddresses: ["SMTP:ada@contoso.com", "smtp:al@contoso.com", "X500:/o=x", "SIP:ada@contoso.com"]
        },
        GRAPH_DEFAULT_MAPPING,
        "graph-id-1"
      )
    )
    expect(user.mail).toBe("ada@contoso.com")
    expect(user.sn).toBe("Lovelace")
    expect(user.title).toBe("Engineer")
    expect(user.department).toBe("R&D")
    expect(user.telephoneNumber).toBe("+1 555 0100")
    expect(user.l).toBe("London")
    expect(user.co).toBe("UK")
    expect(user.proxyAddresses).toEqual(["SMTP:ada@contoso.com", "smtp:al@contoso.com"])
    expect(user.facsimileTelephoneNumber).toBeUndefined()
  })

  it("maps an AD entry with its LDAP names, memberOf as given", () => {
    const user = upserted(
      mapRecord(
        {
          mail: "bob@corp.example",
          sn: "Builder",
          title: "Foreman",
          l: "Leeds",
          st: "Yorks",
          co: "United Kingdom",
          facsimileTelephoneNumber: "+44 1",
          memberOf: ["CN=Sales,OU=Groups,DC=corp,DC=example", "Staff"]
        },
        LDAP_DEFAULT_MAPPING,
        "cn=bob"
      )
    )
    expect(user.sn).toBe("Builder")
    expect(user.st).toBe("Yorks")
    expect(user.facsimileTelephoneNumber).toBe("+44 1")
    expect(user.memberOf).toEqual(["CN=Sales,OU=Groups,DC=corp,DC=example", "Staff"])
  })

  it("takes the primary SMTP proxy address when mail is empty, and rejects an entry with no address at all", () => {
    expect(upserted(mapRecord({ mail: "", proxyAddresses: ["smtp:b@x.example", "SMTP:a@x.example"] }, LDAP_DEFAULT_MAPPING, "r")).mail).toBe("a@x.example")
    const rejected = mapRecord({ displayName: "No Mail" }, LDAP_DEFAULT_MAPPING, "cn=nomail")
    expect(rejected).toMatchObject({ _tag: "Rejected", ref: "cn=nomail" })
    expect(rejected._tag === "Rejected" && rejected.reason).toMatch(/no mail/)
  })

  it("rejects invalid mail", () => {
    for (const mail of ["not-an-address", "a@b", "a b@c.example", "<a@c.example>", "a@c.ex\u0000ample", "x@-bad-.example"]) {
      expect(mapRecord({ mail }, LDAP_DEFAULT_MAPPING, "r")._tag, mail).toBe("Rejected")
    }
  })

  it("refuses markup and control characters in single-valued attributes, naming the attribute and keeping the mail", () => {
    const html = mapRecord({ mail: "a@x.example", telephoneNumber: '<a href="http://evil">call</a>' }, LDAP_DEFAULT_MAPPING, "r1")
    expect(html).toMatchObject({ _tag: "Rejected", mail: "a@x.example" })
    expect(html._tag === "Rejected" && html.reason).toMatch(/telephoneNumber.*markup/)
    const entity = mapRecord({ mail: "a@x.example", title: "Boss&#x3c;script" }, LDAP_DEFAULT_MAPPING, "r2")
    expect(entity._tag).toBe("Rejected")
    const control = mapRecord({ mail: "a@x.example", department: "Sales\u0000" }, LDAP_DEFAULT_MAPPING, "r3")
    expect(control._tag === "Rejected" && control.reason).toMatch(/department.*control/)
    const tooLong = mapRecord({ mail: "a@x.example", displayName: "x".repeat(MAX_VALUE_LENGTH + 1) }, LDAP_DEFAULT_MAPPING, "r4")
    expect(tooLong._tag === "Rejected" && tooLong.reason).toMatch(/displayName.*longer/)
  })

  it("keeps plain ampersands and drops bad aliases without rejecting the user", () => {
    const user = upserted(
      mapRecord(
        { mail: "a@x.example", company: "Smith & Sons", proxyAddresses: ["smtp:bad alias", "smtp:ok@x.example", "c@x.example"] },
        LDAP_DEFAULT_MAPPING,
        "r"
      )
    )
    expect(user.company).toBe("Smith & Sons")
    expect(user.proxyAddresses).toEqual(["smtp:ok@x.example", "smtp:c@x.example"])
  })

  it("maps custom attributes and honours overrides; an empty override removes a default", () => {
    const mapping = mergeMapping(LDAP_DEFAULT_MAPPING, { "custom.employeeId": "employeeID", title: "", mobile: "otherMobile" })
    const user = upserted(mapRecord({ mail: "a@x.example", employeeID: " 42 ", title: "Ignored", otherMobile: "+1 2" }, mapping, "r"))
    expect(user.custom).toEqual({ employeeId: "42" })
    expect(user.title).toBeUndefined()
    expect(user.mobile).toBe("+1 2")
    expect(mapRecord({ mail: "a@x.example" }, { mail: "mail", bogus: "x" }, "r")._tag).toBe("Rejected")
  })

  it("never lets markup or control characters through in any single-valued attribute (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (value) => {
        const change = mapRecord({ mail: "p@x.example", title: value }, LDAP_DEFAULT_MAPPING, "p")
        if (change._tag === "Upsert") {
          const title = change.user.title ?? ""
          expect(title).not.toMatch(/[<>\u0000-\u001f\u007f-\u009f]/)
          expect(title).toBe(title.trim())
        } else expect(change._tag).toBe("Rejected")
      })
    )
  })
})
