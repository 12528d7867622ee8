/**
 * Issue 14, items 4 and 5: signed or encrypted content anywhere in the
 * message's own tree (RFC 1847 multipart/signed and multipart/encrypted,
 * RFC 3156 application/pgp-encrypted, RFC 8551 application/pkcs7-mime) and
 * inline OpenPGP armour (RFC 4880 §7, "-----BEGIN PGP SIGNED MESSAGE-----")
 * anywhere in the chosen text, quoted or not, pass unstamped with a reason;
 * when that is only known after stamped bytes left, the stamper fails (the
 * relay answers 451 and the retry passes unstamped: invariant 5). And only the
 * message's own body changes: a part with a non-inline disposition (RFC 2183:
 * unknown dispositions are treated as attachment) or a file name, or a text
 * part that is not an alternative of the body, keeps its bytes.
 */
import { describe, expect, it } from "vitest"
import { passThrough, runStamper, splitParts } from "./MimeHarness.js"

const headers = "From: a@example.com\r\nTo: b@example.com\r\nSubject: Re: t\r\nMIME-Version: 1.0\r\n"

const message = (type: string, body: string): Buffer => Buffer.from(`${headers}Content-Type: ${type}\r\n\r\n${body}`)

const multipart = (type: string, boundary: string, parts: Array<string>): string =>
  `Content-Type: ${type}; boundary="${boundary}"\r\n\r\n` + parts.map((p) => `--${boundary}\r\n${p}\r\n`).join("") + `--${boundary}--`

const text = (body: string, type = "text/plain", extra = ""): string =>
  `Content-Type: ${type}; charset=utf-8\r\n${extra}Content-Transfer-Encoding: 8bit\r\n\r\n${body}`

const REPLY = "Thanks, see below.\r\n\r\nOn Mon, 1 Jan 2024 at 10:00, Bob <bob@example.com> wrote:\r\n> old\r\n"
const SIGNATURE = 'Content-Type: application/pgp-signature; name="signature.asc"\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\nxyz\r\n-----END PGP SIGNATURE-----'

/** a message whose root is multipart/mixed: `parts` are whole part sources */
const mixed = (parts: Array<string>): Buffer => {
  const body = multipart("multipart/mixed", "outer", parts)
  const split = body.indexOf("\r\n\r\n")
  return Buffer.from(headers + body.slice(0, split) + body.slice(split))
}

const passesByteIdentical = async (input: Buffer, reason: string) => {
  const { output, outcome } = await runStamper(input)
  expect(outcome.stamped).toEqual([])
  expect(outcome.skipped).toBe(reason)
  expect(output.equals(input)).toBe(true)
}

describe("signed and encrypted content at any depth", () => {
  it("passes multipart/signed nested in a list's multipart/mixed wrapper (footer after it)", async () => {
    await passesByteIdentical(
      mixed([multipart('multipart/signed; protocol="application/pgp-signature"', "sig", [text(REPLY), SIGNATURE]), text("list footer\r\n")]),
      "signed"
    )
  })

  it("passes multipart/signed that follows the wrapper's own text part", async () => {
    await passesByteIdentical(mixed([text("Forwarding the signed notice:\r\n"), multipart("multipart/signed", "sig", [text(REPLY), SIGNATURE])]), "signed")
  })

  it("passes nested multipart/encrypted, application/pgp-encrypted and application/pkcs7-mime", async () => {
    const pgp = multipart('multipart/encrypted; protocol="application/pgp-encrypted"', "enc", [
      "Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1",
      "Content-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nabc\r\n-----END PGP MESSAGE-----"
    ])
    await passesByteIdentical(mixed([text("see attached\r\n"), pgp]), "encrypted")
    await passesByteIdentical(mixed([text("see attached\r\n"), "Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1"]), "encrypted")
    await passesByteIdentical(
      mixed([
        text("see attached\r\n"),
        "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIB"
      ]),
      "pkcs7"
    )
  })

  it("still stamps a message that only forwards a signed message as an attachment (message/rfc822)", async () => {
    const attached = `Content-Type: message/rfc822\r\n\r\nSubject: signed\r\nMIME-Version: 1.0\r\n${multipart("multipart/signed", "sig", [text("inner\r\n"), SIGNATURE])}`
    const { outcome } = await runStamper(mixed([text("FYI, the signed original is attached.\r\n"), attached]))
    expect(outcome.stamped).toEqual(["text"])
  })

  it("passes a text body with inline PGP armour below new text, quoted or not", async () => {
    const inline =
      "Here is the release note:\r\n\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nv2.1\r\n-----BEGIN PGP SIGNATURE-----\r\nxyz\r\n-----END PGP SIGNATURE-----\r\n"
    await passesByteIdentical(message("text/plain; charset=utf-8", inline), "pgp-inline")
    const quoted = `Looks good.\r\n\r\nOn Mon, 1 Jan 2024, Bob <bob@example.com> wrote:\r\n> -----BEGIN PGP SIGNED MESSAGE-----\r\n> Hash: SHA256\r\n>\r\n> v2.1\r\n`
    await passesByteIdentical(message("text/plain; charset=utf-8", quoted), "pgp-inline")
    const html = `<html><body><p>Looks good.</p><blockquote type="cite"><pre>-----BEGIN PGP MESSAGE-----\r\nabc\r\n-----END PGP MESSAGE-----</pre></blockquote></body></html>`
    await passesByteIdentical(message("text/html; charset=utf-8", html), "pgp-inline")
  })

  it("fails rather than deliver a stamped part when the armour appears after the held window", async () => {
    const long = "A long reply line that fills the window before the armour shows up.\r\n".repeat(1200)
    const input = message("text/plain; charset=utf-8", `${long}\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nx\r\n`)
    await expect(runStamper(input)).rejects.toThrow(/pgp-inline/)
  })

  it("fails rather than deliver a stamped part when a signed part follows a long body", async () => {
    const long = "A long body line that fills the window before the signed part arrives.\r\n".repeat(1200)
    const input = mixed([text(long), multipart("multipart/signed", "sig", [text(REPLY), SIGNATURE])])
    await expect(runStamper(input)).rejects.toThrow(/signed/)
  })
})

describe("only the message's own body changes", () => {
  it("never stamps a part whose disposition is not inline (RFC 2183: unknown means attachment)", async () => {
    for (const disposition of ["=?utf-8?Q?invalid?=", "attachment", "x-unknown"]) {
      const input = Buffer.from(`${headers}Content-Type: text/html; charset=utf-8\r\nContent-Disposition: ${disposition}\r\n\r\n<p>foo</p>\r\n`)
      const { output, outcome } = await runStamper(input)
      expect(outcome.stamped).toEqual([])
      expect(output.equals(input)).toBe(true)
    }
  })

  it("never stamps a text part with a file name, whatever its charset or where the name is given", async () => {
    const latin2 = Buffer.from("\xb1\xe6\xea\xb3\xf1\r\n", "latin1").toString("latin1")
    for (const named of [
      `Content-Type: text/plain; charset=iso-8859-2; name="notes.txt"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${latin2}`,
      `Content-Type: text/plain; charset=iso-8859-2\r\nContent-Disposition: inline; filename*=iso-8859-2''notes%B1.txt\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${latin2}`,
      `Content-Type: text/plain; charset=iso-8859-2; name*0="no"; name*1="tes.txt"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${latin2}`
    ]) {
      const input = Buffer.from(headers + multipart("multipart/mixed", "outer", [text("<p>Own body</p>", "text/html"), named]), "latin1")
      const before = await splitParts(await passThrough(input))
      const { output, outcome } = await runStamper(input)
      const after = await splitParts(output)
      expect(outcome.stamped).toEqual(["html"])
      expect(after[2].headers.equals(before[2].headers) && after[2].body.equals(before[2].body)).toBe(true)
    }
  })

  it("stamps a text/plain only as the HTML body's alternative, not as a second part of multipart/mixed", async () => {
    const input = Buffer.from(headers + multipart("multipart/mixed", "outer", [text("<p>Own body</p>", "text/html"), text("inline notes\r\n")]))
    const before = await splitParts(await passThrough(input))
    const { output, outcome } = await runStamper(input)
    const after = await splitParts(output)
    expect(outcome.stamped).toEqual(["html"])
    expect(after[2].body.equals(before[2].body)).toBe(true)
    const alternative = Buffer.from(
      headers +
        multipart("multipart/mixed", "outer", [
          multipart("multipart/alternative", "alt", [text("Own body\r\n"), text("<p>Own body</p>", "text/html")]),
          text("notes\r\n")
        ])
    )
    expect((await runStamper(alternative)).outcome.stamped).toEqual(["text", "html"])
  })

  it("leaves a body alone whose next part opens with a padded boundary line the splitter does not take (RFC 2046 §5.1.1)", async () => {
    const input = Buffer.from(
      `${headers}Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n${text("first part\r\n")}\r\n--b   \r\n` +
        `Content-Type: image/gif; name="x.gif"\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n--b--\r\n`
    )
    const { output, outcome } = await runStamper(input)
    expect(outcome.stamped).toEqual([])
    expect(outcome.parts[0]?.result).toBe("malformed")
    expect(output.equals(input)).toBe(true)
    const long = "A long body line that fills the window before the padded boundary.\r\n".repeat(1200)
    const late = Buffer.from(input.toString("latin1").replace("first part\r\n", long), "latin1")
    await expect(runStamper(late)).rejects.toThrow(/malformed/)
  })
})
