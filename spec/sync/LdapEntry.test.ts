import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { entryRecord, firstRdn, groupName } from "../../src/sync/LdapEntry.js"
import { LdapSourceConfig } from "../../src/sync/LdapSource.js"

describe("LDAP entries into source records", () => {
  it("group DNs become their CN, RFC 4514 escapes undone", () => {
    expect(groupName("CN=Sales\\, EMEA,OU=Groups,DC=corp,DC=example")).toBe("Sales, EMEA")
    expect(groupName("cn=R\\26D,ou=groups,dc=x")).toBe("R&D")
    // hex escapes are UTF-8 bytes
    expect(groupName("CN=M\\C3\\BCnchen Office,OU=Groups,DC=x")).toBe("München Office")
    expect(groupName("CN=Zoë's team,DC=x")).toBe("Zoë's team")
    expect(groupName("CN=a\\+b,DC=x")).toBe("a+b")
    // not a CN, a multi-valued RDN, a BER value: the DN stays as it is
    expect(groupName("OU=Staff,DC=corp,DC=example")).toBe("OU=Staff,DC=corp,DC=example")
    expect(groupName("CN=a+UID=b,DC=x")).toBe("CN=a+UID=b,DC=x")
    expect(groupName("CN=#04024869,DC=x")).toBe("CN=#04024869,DC=x")
    expect(firstRdn("not a dn")).toBeUndefined()
    // an escaped invalid UTF-8 byte is not a name
    expect(groupName("CN=\\C3,DC=x")).toBe("CN=\\C3,DC=x")
  })

  it("attribute names match case-insensitively and without options; single values become lists", () => {
    const r = entryRecord(
      { dn: "uid=a,dc=x", MAIL: "a@x.example", proxyAddresses: ["SMTP:a@x.example", "smtp:b@x.example"], memberOf: "CN=Staff,DC=x", "title;lang-en": "Boss" },
      ["mail", "proxyAddresses", "memberOf", "title", "mobile"],
      "memberOf",
      "cn"
    )
    expect(r).toEqual({
      _tag: "Record",
      record: { mail: ["a@x.example"], proxyAddresses: ["SMTP:a@x.example", "smtp:b@x.example"], memberOf: ["Staff"], title: ["Boss"] }
    })
  })

  it("a binary (non-UTF-8) value in a wanted attribute is reported by name; an unwanted one is ignored", () => {
    const photo = Buffer.from([0xff, 0xd8, 0xff])
    expect(entryRecord({ dn: "uid=a", mail: "a@x.example", thumbnailPhoto: photo }, ["mail", "thumbnailPhoto"], undefined, "cn")).toEqual({
      _tag: "Binary",
      attribute: "thumbnailPhoto"
    })
    expect(entryRecord({ dn: "uid=a", mail: "a@x.example", thumbnailPhoto: photo }, ["mail"], undefined, "cn")).toEqual({
      _tag: "Record",
      record: { mail: ["a@x.example"] }
    })
  })
})

describe("LdapSourceConfig", () => {
  const base = { url: "ldaps://dc1.corp.example:636", bindDn: "CN=svc,DC=corp", password: "p", baseDn: "DC=corp" }
  const decode = (c: unknown) => Schema.decodeUnknownEither(LdapSourceConfig)(c)
  it("accepts a complete configuration", () => {
    expect(
      Either.isRight(
        decode({ ...base, filter: "(&(objectCategory=person)(mail=*))", pageSize: 1000, groupNames: "dn", mapping: { "custom.x": "extensionAttribute1" } })
      )
    ).toBe(true)
    expect(Either.isRight(decode({ ...base, url: "ldap://127.0.0.1:389", startTls: true, caCert: "-----BEGIN CERTIFICATE-----\nMII…" }))).toBe(true)
  })
  it("refuses what cannot work, with a reason", () => {
    const refused = (c: unknown, why: RegExp) => {
      const r = decode(c)
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) expect(String(r.left)).toMatch(why)
    }
    refused({ ...base, url: "http://dc1" }, /ldap:\/\/host/)
    refused({ ...base, url: "ldap://user:pw@dc1" }, /without a path or credentials/)
    refused({ ...base, password: "" }, /password must not be empty/)
    refused({ ...base, filter: "(&(mail=*)" }, /RFC 4515/)
    refused({ ...base, startTls: true }, /startTls is for ldap:\/\//)
    refused({ ...base, pageSize: 0 }, /between/)
    refused({ ...base, caCert: "not pem" }, /PEM/)
    refused({ ...base, groupNames: "name" }, /"dn" \| "cn"|Expected/)
  })
})
