/**
 * Issue 14, item 2: HTML quotes found by structure, then by the same lexicon as
 * plain text over the HTML's visible text; the signature goes above the
 * attribution or header block, never inside a blockquote. Markup follows the
 * clients' documented output (GMX/Web.de's "Gesendet:" block, Roundcube's
 * forward table, Thunderbird's localised banners); texts are made up.
 */
import { describe, it } from "vitest"
import { expectHtml, expectText } from "./ScanHelper.js"

describe("HTML: attribution lines from the lexicon", () => {
  it.each([
    ["Thunderbird de before a blockquote", `<p>Danke!</p>⟦<div class="x">Am 01.02.2024 um 10:00 schrieb Max Muster:<br></div><blockquote>alt</blockquote>`],
    [
      "Gmail ru, wrapped by a <br>",
      `<div>Спасибо</div><br>⟦<div>чт, 1 февр. 2024 г. в 10:00, Иван Петров &lt;ivan@example.com<br>&gt;:<br></div><blockquote>старое</blockquote>`
    ],
    [
      "Thunderbird nl inside a div, blockquote nested twice",
      `<p>Bedankt</p>⟦<div>Op 01-02-2024 om 10:00 schreef Jan Jansen:</div><blockquote><blockquote>oud</blockquote></blockquote>`
    ]
  ])("%s", (_, marked) => expectHtml(marked))

  it("'>'-quoted lines in HTML (a plain reply rendered as HTML), after an attribution", () => {
    expectHtml(
      `<div>Thanks!</div><div><br></div>⟦<div>On Thu, Feb 1, 2024 at 10:00 AM Max &lt;max@example.com&gt; wrote:</div><div>&gt; earlier text</div><div>&gt; more</div>`
    )
    expectHtml(`<div>Thanks!</div><div><br></div>⟦<div>&gt; earlier text</div><div>&gt; more</div>`)
  })
})

describe("banners and header blocks in the clients' own words", () => {
  it.each([
    ["Thunderbird da banner in HTML", `<p>Tak</p>⟦<div class="x">-------- Oprindelig meddelelse --------<br>Emne: Test</div>`],
    [
      "Roundcube de forward table",
      `<p>Siehe unten</p><br>⟦<p>-------- Originalnachricht --------</p><table><tbody><tr><th>Betreff: </th><td>Test</td></tr></tbody></table>`
    ],
    [
      "GMX/Web.de: 'Gesendet:' above 'Von:'",
      `<div>Danke</div><div>&nbsp;</div>⟦<div name="quote"><div><b>Gesendet:</b>&nbsp;Donnerstag, 01. Februar 2024 um 10:00 Uhr<br><b>Von:</b>&nbsp;"Max" &lt;max@example.com&gt;<br><b>An:</b>&nbsp;x@example.com<br><b>Betreff:</b>&nbsp;Test</div></div>`
    ]
  ])("%s", (_, marked) => expectHtml(marked))

  it("plain text: a header block whose first label is not the sender's", () => {
    expectText(
      "Danke\r\n\r\n⟦Gesendet: Donnerstag, 01. Februar 2024 um 10:00 Uhr\r\nVon: Max <max@example.com>\r\nAn: x@example.com\r\nBetreff: Test\r\n\r\nalt\r\n"
    )
    expectText("See below\r\n\r\n⟦Subject: Test\r\nDate: 2024-02-01 10:00\r\nFrom: Max <max@example.com>\r\nTo: x@example.com\r\n\r\nold\r\n")
  })
})
