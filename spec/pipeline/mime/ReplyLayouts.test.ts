/**
 * Issue 14, item 3: one rule for every layout — the signature goes right after
 * the sender's last new text and above the quoted or forwarded material that
 * follows it; if nothing follows, at the end. Forwards with a comment,
 * bottom-posted and interleaved replies, in text and HTML, in the shapes the
 * clients write them (texts made up).
 */
import { describe, it } from "vitest"
import { expectHtml, expectText } from "./ScanHelper.js"

describe("plain text", () => {
  it.each([
    [
      "forward with a comment (Gmail)",
      "FYI, see below.\r\n\r\n⟦---------- Forwarded message ---------\r\nFrom: Max <max@example.com>\r\nDate: Thu, Feb 1, 2024 at 10:00 AM\r\nSubject: Test\r\n\r\nbody\r\n"
    ],
    ["forward with a comment (Apple Mail)", "FYI\r\n\r\n⟦Begin forwarded message:\r\n\r\nFrom: Max <max@example.com>\r\nSubject: Test\r\n"],
    ["bottom-posted", "On Thu, Feb 1, 2024 at 10:00 AM Max <max@example.com> wrote:\r\n> question\r\n\r\nanswer\r\n⟦"],
    [
      "interleaved, a quote after the last answer",
      "On Thu, Feb 1, 2024 at 10:00 AM Max <max@example.com> wrote:\r\n> q1\r\n\r\nanswer 1\r\n\r\n> q2\r\n\r\nanswer 2\r\n\r\n⟦> q3 (not answered)\r\n> more\r\n"
    ],
    ["interleaved, ending with an answer", "> q1\r\nanswer 1\r\n> q2\r\nanswer 2\r\n⟦"]
  ])("%s", (_, marked) => expectText(marked))
})

describe("HTML", () => {
  it.each([
    [
      "Gmail forward with a comment",
      `<div dir="ltr">FYI, see below.<br><br>⟦<div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: Max</div></div></div>`
    ],
    [
      "Outlook forward with a comment",
      `<p class=MsoNormal>FYI<o:p></o:p></p>⟦<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p><b>From:</b> Max<br><b>Sent:</b> Thursday</p></div>`
    ],
    [
      "Apple Mail forward with a comment",
      `<html><body><div>FYI</div><div><br>⟦<blockquote type="cite"><div>Begin forwarded message:</div><div>old</div></blockquote></div></body></html>`
    ],
    [
      "Thunderbird bottom-posted",
      `<html><body><div class="moz-cite-prefix">On 01/02/2024 10:00, Max wrote:<br></div><blockquote type="cite">q</blockquote><p>answer</p>⟦</body></html>`
    ]
  ])("%s", (_, marked) => expectHtml(marked))
})

describe("HTML interleaved", () => {
  it.each([
    [
      "Thunderbird: answers between quotes, a quote after the last answer",
      `<html><body><div class="moz-cite-prefix">On 01/02/2024 10:00, Max wrote:<br></div><blockquote type="cite">q1</blockquote><p>answer 1</p>⟦<blockquote type="cite">q2 (not answered)</blockquote></body></html>`
    ],
    [
      "Apple Mail: ending with an answer",
      `<html><body><div><blockquote type="cite"><div>On Feb 1, 2024, at 10:00, Max wrote:</div><div>q1</div></blockquote></div><div>answer 1</div><blockquote type="cite"><div>q2</div></blockquote><div>answer 2</div>⟦</body></html>`
    ]
  ])("%s", (_, marked) => expectHtml(marked))
})
