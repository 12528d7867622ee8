/**
 * Issue 14, item 1: attribution lines as the clients write them, from their own
 * localised strings (Thunderbird's mailnews.reply_header_*, K-9 Mail's
 * message_compose_reply_header_fmt*, Roundcube's mailreplyintro; see
 * tools/lexicon/SOURCES.md), Gmail's date-first form and its wrapping at 78
 * columns, and the structural fallback (date + name/address + colon, then a
 * quote) for forms no list holds. Names, dates and texts are made up here.
 */
import { describe, expect, it } from "vitest"
import { attributionKind, ATTRIBUTION_SHAPES, structuralAttribution } from "../../../src/pipeline/mime/lexicon/AttributionMatcher.js"
import { LEXICON_LANGUAGES } from "../../../src/pipeline/mime/lexicon/ReplyLexiconData.js"
import { expectText } from "./ScanHelper.js"

const reply = (attribution: string, quote = "> Earlier message\r\n") => `New text here.\r\n\r\n⟦${attribution}\r\n${quote}`

describe("the generated lexicon", () => {
  it("covers at least 40 languages and hundreds of shapes", () => {
    expect(LEXICON_LANGUAGES).toBeGreaterThanOrEqual(40)
    expect(ATTRIBUTION_SHAPES).toBeGreaterThan(150)
  })

  it.each([
    ["Thunderbird de", "Am 01.02.2024 um 10:00 schrieb Max Muster:"],
    ["Thunderbird de, author first", "Max Muster schrieb am 01.02.2024 um 10:00:"],
    ["Thunderbird fr", "Le 01/02/2024 à 10:00, Jean Dupont a écrit :"],
    ["Thunderbird nl", "Op 01-02-2024 om 10:00 schreef Jan Jansen:"],
    ["Thunderbird da", "Den 01-02-2024 kl. 10:00 skrev Lars Hansen:"],
    ["Thunderbird nb", "Den 01.02.2024 10:00, skrev Kari Nordmann:"],
    ["Thunderbird ru", "01.02.2024 10:00, Иван Петров пишет:"],
    ["Thunderbird uk, author first", "Іван Петренко пише 01.02.2024 10:00:"],
    ["Thunderbird pl", "W dniu 1.02.2024 o 10:00, Jan Kowalski pisze:"],
    ["Thunderbird fi", "Matti Meikäläinen kirjoitti 1.2.2024 klo 10.00:"],
    ["Thunderbird hu", "Kiss Péter írta 2024.02.01. 10:00 dátummal:"],
    ["Thunderbird tr", "01.02.2024 10:00 tarihinde Ahmet Yılmaz yazdı:"],
    ["Thunderbird el", "Στις 1/2/2024 10:00 π.μ., Γιώργος Παπαδόπουλος έγραψε:"],
    ["Thunderbird zh-CN", "在 2024/2/1 10:00, 张三 写道:"],
    ["Thunderbird ko", "2024. 2. 1. 오전 10:00에 김철수 이(가) 쓴 글:"],
    ["Roundcube ja", "2024-02-01 10:00 に 山田太郎 さんは書きました:"],
    ["Roundcube de", "Am 2024-02-01 10:00, schrieb Max Muster:"],
    ["K-9 da", "Den 1. feb. 2024 10:00, Lars Hansen skrev:"],
    ["K-9 de", "Am 01.02.2024 10:00 schrieb Max Muster:"]
  ])("%s: %s", (_, attribution) => {
    expect(attributionKind(attribution)).toBe("dated")
    expectText(reply(attribution))
  })
})

describe("forms no lexicon holds: the structural fallback", () => {
  it.each([
    ["Gmail date-first", "2024-02-01 10:00 GMT+01:00 Max Muster <max@example.com>:"],
    ["Thunderbird uk (no words at all)", "01.02.2024 10:00, Іван Петренко:"],
    ["Gmail no", "tor. 1. feb. 2024 kl. 10:00 skrev Ola Nordmann <ola@example.com>:"],
    ["Gmail sv", "tors 1 feb. 2024 kl. 10:00 skrev Sven Svensson <sven@example.com>:"]
  ])("%s", (_, attribution) => {
    expect(structuralAttribution(attribution)).toBe(true)
    expectText(reply(attribution))
  })

  it("does not take a dated line ending with a colon for an attribution unless a quote follows", () => {
    expectText("Agenda for the meeting on 1 Feb 2024 at 10:00 with Max:\r\n- budget\r\n- hiring\r\n⟦")
    expectText("On the other hand, I wrote:\r\nwe should wait.\r\n⟦")
  })
})

describe("attributions wrapped by the client", () => {
  it("Gmail wraps at 78 columns before the address", () => {
    expectText(reply("On Thu, Feb 1, 2024 at 10:00 AM Maximilian Mustermann-Schmidt <\r\nmaximilian.mustermann@example.com> wrote:"))
  })

  it("over three lines, and with the closing '>:' alone on the last line", () => {
    expectText(reply("Am Do., 1. Feb. 2024 um 10:00 Uhr schrieb Maximilian\r\nMustermann-Schmidt von der Beispielfirma GmbH <\r\nmax@example.com>:"))
    expectText(reply("tor. 1. feb. 2024 kl. 10:00 skrev Ola Nordmann <ola.nordmann@example.com\r\n>:", "\r\n> Earlier message\r\n"))
    expectText(reply("Op do 1 feb. 2024 om 10:00 schreef Jan Jansen <\r\njan@example.com>:", "\r\n> Eerder bericht\r\n"))
  })

  it("a client that drops the colon: a dated form naming an address", () => {
    expectText(`New text here.\r\n\r\n⟦On Thu, 1 Feb 2024 10:00:00 +0100 Max Muster <max@example.com> wrote\r\n\r\nEarlier message\r\n`)
  })

  it("never reaches up into new text directly above the attribution", () => {
    expectText("New text here.\r\n⟦On Thu, Feb 1, 2024 at 10:00 AM Max <max@example.com> wrote:\r\n> Earlier\r\n")
    expectText("New text here.\r\n⟦Max Muster <max@example.com> wrote:\r\n> Earlier\r\n")
  })
})

describe("banners and header blocks", () => {
  it.each([
    ["Thunderbird da banner", "-------- Oprindelig meddelelse --------\r\nEmne: Test\r\nDato: 01-02-2024\r\nFra: Lars <lars@example.com>\r\n"],
    ["Thunderbird sl forward banner", "-------- Posredovano sporočilo --------\r\nZadeva: Test\r\n"],
    [
      "a framed title of any language above a K-9 da header block",
      "-------- Oprindelig besked --------\r\nFra: Lars <lars@example.com>\r\nDato: 01.02.2024\r\nTil: x@example.com\r\nEmne: Test\r\n"
    ],
    ["Roundcube cs header block", "Od: Jan Novák <jan@example.com>\r\nKomu: x@example.com\r\nPředmět: Test\r\n"]
  ])("%s", (_, block) => {
    expectText(`New text here.\r\n\r\n⟦${block}\r\nEarlier message\r\n`)
  })
})
