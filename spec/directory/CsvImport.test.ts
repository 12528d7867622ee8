import { describe, expect, it } from "vitest"
import { parseDirectoryCsv } from "../../src/directory/CsvImport.js"
import { parseJsonUsers } from "../../src/directory/UserRows.js"

const csv = (...lines: Array<string>) => lines.join("\r\n") + "\r\n"

describe("parseDirectoryCsv", () => {
  it("reads the header's attributes, quoted fields with commas, quotes and line breaks, lists split on ';', custom columns, a BOM", () => {
    const text =
      "\ufeff" +
      csv(
        "mail,displayName,title,streetAddress,proxyAddresses,memberOf,custom.pronouns",
        `ann@acme.example,"Lovelace, Ada","Head of ""Engines""","12 Babbage St`,
        `Floor 3",SMTP:ann@acme.example; smtp:ada@acme.example ;X500:/o=x,Sales;Everyone,she/her`,
        "bob@acme.example,  Bob  ,,,,,"
      )
    const result = parseDirectoryCsv(text)
    expect(result.rejected).toEqual([])
    expect(result.users.length).toBe(2)
    const [ann, bob] = result.users
    expect(ann!.mail).toBe("ann@acme.example") // the BOM is not part of the first column's name
    expect(ann!.displayName).toBe("Lovelace, Ada")
    expect(ann!.title).toBe('Head of "Engines"')
    expect(ann!.streetAddress).toBe("12 Babbage St Floor 3") // a line break in a value is one space
    expect(ann!.proxyAddresses).toEqual(["SMTP:ann@acme.example", "smtp:ada@acme.example"])
    expect(ann!.memberOf).toEqual(["Sales", "Everyone"])
    expect(ann!.custom).toEqual({ pronouns: "she/her" })
    expect(bob!.displayName).toBe("Bob") // trimmed
    expect(bob!.title).toBeUndefined() // empty means absent
  })

  it("refuses bad rows one by one, each with the line it starts on", () => {
    const text = [
      "mail,displayName,telephoneNumber", // line 1
      ",No Mail,", // 2: missing mail
      "not-an-address,Bad,", // 3: invalid mail
      "ann@acme.example,Ann,+44 20 7946 0958", // 4: ok
      "", // 5: blank, skipped
      "ANN@acme.example,Ann again,", // 6: duplicate of line 4
      "eve@acme.example,Eve,<b>0800</b>", // 7: markup in a phone
      'multi@acme.example,"two', // 8: a quoted field spanning lines 8-9
      'lines",', // 9
      "ctl@acme.example,Ctl,0800\u0007123", // 10: control character
      "wide@acme.example,Wide,1,extra", // 11: too many fields
      "ok@acme.example,Ok," // 12
    ].join("\n")
    const result = parseDirectoryCsv(text)
    expect(result.users.map((u) => u.mail)).toEqual(["ann@acme.example", "multi@acme.example", "ok@acme.example"])
    expect(result.rejected.map((r) => r.row)).toEqual([2, 3, 6, 7, 10, 11])
    const reason = (row: number) => result.rejected.find((r) => r.row === row)!.reason
    expect(reason(2)).toContain("no mail")
    expect(reason(3)).toContain("not a valid address")
    expect(reason(6)).toContain("row 4")
    expect(result.rejected.find((r) => r.row === 6)!.mail).toBe("ANN@acme.example")
    expect(reason(7)).toContain("markup")
    expect(reason(10)).toContain("control character")
    expect(reason(11)).toContain("4 fields")
  })

  it("refuses the whole file for a header problem or a syntax error", () => {
    const typo = parseDirectoryCsv(csv("mail,displayName,titel", "a@acme.example,A,Boss"))
    expect(typo.users).toEqual([])
    expect(typo.rejected).toEqual([{ row: 1, reason: expect.stringContaining('"titel"') }])
    const noMail = parseDirectoryCsv(csv("displayName", "A"))
    expect(noMail.users).toEqual([])
    expect(noMail.rejected[0]!.reason).toContain("no mail column")
    const twice = parseDirectoryCsv(csv("mail,mail", "a@acme.example,b@acme.example"))
    expect(twice.rejected[0]!.reason).toContain("twice")
    const unclosed = parseDirectoryCsv(csv("mail,displayName", "a@acme.example,A", 'b@acme.example,"B'))
    expect(unclosed.users).toEqual([])
    expect(unclosed.rejected[0]!.reason).toContain("CSV syntax")
    expect(parseDirectoryCsv("").rejected[0]!.reason).toContain("empty")
  })
})

describe("parseJsonUsers", () => {
  it("takes user objects, refuses non-objects, unknown keys, wrong types, bad values and duplicates by position", () => {
    const result = parseJsonUsers([
      { mail: "ann@acme.example", displayName: " Ann ", proxyAddresses: ["smtp:a@acme.example"], custom: { team: "Blue" } },
      "not an object",
      { mail: "bob@acme.example", titel: "typo" },
      { mail: "cat@acme.example", title: 5 },
      { mail: "dan@acme.example", mobile: "<script>1</script>" },
      { mail: "Ann@Acme.example" },
      { displayName: "no mail" }
    ])
    expect(result.users.map((u) => u.mail)).toEqual(["ann@acme.example"])
    expect(result.users[0]!.displayName).toBe("Ann")
    expect(result.users[0]!.custom).toEqual({ team: "Blue" })
    expect(result.rejected.map((r) => r.row)).toEqual([2, 3, 4, 5, 6, 7])
    expect(result.rejected[1]!.reason).toContain('"titel"')
    expect(result.rejected[1]!.mail).toBe("bob@acme.example")
    expect(result.rejected[4]!.reason).toContain("row 1")
  })
})
