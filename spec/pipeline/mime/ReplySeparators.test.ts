/**
 * The reply-separator scanners on their own, client by client and language by
 * language: where the signature goes in a whole body, and that feeding the
 * same body in small pieces (with the window's front dropped as it would be
 * emitted) finds the same place.
 */
import { describe, it } from "vitest"
import { expectHtml as html, expectText as text } from "./ScanHelper.js"

describe("plain-text reply separators", () => {
  it.each([
    ["EN", "Thanks!\r\n\r\n⟦On Mon, Jan 1, 2024 at 10:00 AM Bob <bob@example.com> wrote:\r\n> hi\r\n"],
    ["EN wrapped", "Thanks!\r\n\r\n⟦On Mon, Jan 1, 2024 at 10:00 AM Bob Example <\r\nbob@example.com> wrote:\r\n> hi\r\n"],
    ["DE", "Danke\r\n\r\n⟦Am 01.01.2024 um 10:00 schrieb Bob Beispiel <bob@example.com>:\r\n> hi\r\n"],
    ["FR", "Merci\r\n\r\n⟦Le lun. 1 janv. 2024 à 10:00, Bob <bob@example.com> a écrit :\r\n> salut\r\n"],
    ["ES", "Gracias\r\n\r\n⟦El lun, 1 ene 2024 a las 10:00, Bob (<bob@example.com>) escribió:\r\n> hola\r\n"],
    ["IT", "Grazie\r\n\r\n⟦Il giorno lun 1 gen 2024 alle ore 10:00 Bob <bob@example.com> ha scritto:\r\n> ciao\r\n"],
    ["NL", "Bedankt\r\n\r\n⟦Op ma 1 jan. 2024 om 10:00 schreef Bob <bob@example.com>:\r\n> hoi\r\n"],
    ["PT", "Obrigado\r\n\r\n⟦Em seg., 1 de jan. de 2024 às 10:00, Bob <bob@example.com> escreveu:\r\n> oi\r\n"],
    ["SV", "Tack\r\n\r\n⟦Den mån 1 jan. 2024 kl 10:00 skrev Bob <bob@example.com>:\r\n> hej\r\n"],
    ["PL", "Dzięki\r\n\r\n⟦W dniu 1.01.2024 o 10:00, Bob <bob@example.com> napisał(a):\r\n> cześć\r\n"],
    ["JA", "ありがとう\r\n\r\n⟦2024年1月1日(月) 10:00 Bob <bob@example.com>:のメッセージ:\r\n> こんにちは\r\n"],
    ["JA 書きました", "ありがとう\r\n\r\n⟦2024/01/01 10:00、Bob <bob@example.com> は書きました:\r\n> こんにちは\r\n"],
    ["ZH", "谢谢\r\n\r\n⟦在 2024年1月1日 10:00，Bob <bob@example.com> 写道：\r\n> 你好\r\n"],
    ["RU", "Спасибо\r\n\r\n⟦1 января 2024 г., в 10:00, Bob <bob@example.com> писал(а):\r\n> привет\r\n"],
    ["Outlook EN", "Thanks\r\n\r\n⟦From: Bob <bob@example.com>\r\nSent: Monday, January 1, 2024 10:00 AM\r\nTo: Jane\r\nSubject: Hi\r\n\r\nold\r\n"],
    ["Outlook DE", "Danke\r\n\r\n⟦Von: Bob <bob@example.com>\r\nGesendet: Montag, 1. Januar 2024 10:00\r\nAn: Jane\r\nBetreff: Hi\r\n"],
    ["Outlook FR", "Merci\r\n\r\n⟦De : Bob <bob@example.com>\r\nEnvoyé : lundi 1 janvier 2024 10:00\r\nÀ : Jane\r\nObjet : Hi\r\n"],
    ["Outlook ES", "Gracias\r\n\r\n⟦De: Bob\r\nEnviado: lunes, 1 de enero de 2024 10:00\r\nPara: Jane\r\nAsunto: Hola\r\n"],
    ["Outlook IT", "Grazie\r\n\r\n⟦Da: Bob\r\nInviato: lunedì 1 gennaio 2024 10:00\r\nA: Jane\r\nOggetto: Ciao\r\n"],
    ["Outlook NL", "Bedankt\r\n\r\n⟦Van: Bob\r\nVerzonden: maandag 1 januari 2024 10:00\r\nAan: Jane\r\nOnderwerp: Hoi\r\n"],
    ["Outlook SV", "Tack\r\n\r\n⟦Från: Bob\r\nSkickat: den 1 januari 2024 10:00\r\nTill: Jane\r\nÄmne: Hej\r\n"],
    ["Outlook PL", "Dzięki\r\n\r\n⟦Od: Bob\r\nWysłano: poniedziałek, 1 stycznia 2024 10:00\r\nDo: Jane\r\nTemat: Cześć\r\n"],
    ["Outlook ZH", "谢谢\r\n\r\n⟦发件人: Bob\r\n发送时间: 2024年1月1日 10:00\r\n收件人: Jane\r\n主题: 你好\r\n"],
    ["Outlook JA", "ありがとう\r\n\r\n⟦差出人: Bob\r\n送信日時: 2024年1月1日 10:00\r\n宛先: Jane\r\n件名: こんにちは\r\n"],
    ["rule", "Thanks\r\n\r\n⟦________________________________\r\nFrom: Bob\r\nSent: Monday\r\n"],
    ["banner", "Thanks\r\n\r\n⟦-----Original Message-----\r\nFrom: Bob\r\n"],
    ["banner DE", "Danke\r\n\r\n⟦-----Ursprüngliche Nachricht-----\r\nVon: Bob\r\n"],
    ["banner FR", "Merci\r\n\r\n⟦-------- Message d'origine --------\r\nDe : Bob\r\n"],
    ["banner ES", "Gracias\r\n\r\n⟦-----Mensaje original-----\r\nDe: Bob\r\n"],
    ["quote block", "Sure.\r\n\r\n⟦> do you agree?\r\n> yes\r\n"],
    ["Notes", 'Thanks\r\n\r\n⟦-----"John Smith" <john@example.com> wrote: -----\r\n\r\nTo: Jane\r\n'],
    ["Notes wrote on", "Thanks\r\n\r\n⟦John Smith/ACME@ACME wrote on 01/01/2024 10:00:00 AM:\r\n\r\n> old\r\n"],
    ["bottom-posted", "On Mon, Bob <bob@example.com> wrote:\r\n> Hi\r\n\r\nHello\r\n⟦"],
    [
      "interleaved, then a trailing quote and a sign-off",
      "On Mon, Bob wrote:\r\n> a?\r\n\r\nyes\r\n\r\n> b?\r\n\r\nno\r\n\r\n⟦> old\r\n> old\r\n\r\n--\r\nBob\r\n"
    ],
    ["nothing", "Just a note.\r\nOn second thought, no.\r\nFrom: my desk\r\n"]
  ])("%s", (_, marked) => text(marked))
})

describe("HTML reply separators", () => {
  it.each([
    [
      "Gmail",
      `<div dir="ltr">Thanks</div><br>⟦<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Bob wrote:</div><blockquote class="gmail_quote">old</blockquote></div>`
    ],
    ["Gmail container", `<div>Thanks</div>⟦<div class="gmail_quote gmail_quote_container"><div class="gmail_attr">On Mon</div></div>`],
    [
      "Outlook desktop",
      `<p class=MsoNormal>Thanks<o:p></o:p></p>⟦<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b>From:</b> Bob<br><b>Sent:</b> Monday</p></div></div>`
    ],
    [
      "Outlook desktop DE",
      `<p>Danke</p>⟦<div style="border:none;border-top:solid #B5C4DF 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p><b>Von:</b> Bob<br><b>Gesendet:</b> Montag</p></div>`
    ],
    ["OLK_SRC_BODY_SECTION", `<div>Reply</div>⟦<span id="OLK_SRC_BODY_SECTION"><div><span>From: </span>Bob</div></span>`],
    [
      "Outlook web",
      `<div>Thanks</div>⟦<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Bob</div>`
    ],
    [
      "Outlook web divRplyFwdMsg",
      `<div>Thanks</div>⟦<hr tabindex="-1" style="display:inline-block;width:98%"><div id="x_divRplyFwdMsg"><b>From:</b> Bob</div>`
    ],
    ["new Outlook", `<div>Thanks</div>⟦<div class="mail-editor-reference-message-container"><div>From: Bob</div></div>`],
    [
      "Apple Mail",
      `<div>Thanks</div><div><br></div>⟦<div><blockquote type="cite"><div>On Jan 1, 2024, at 10:00, Bob &lt;bob@example.com&gt; wrote:</div><br><div>old</div></blockquote></div>`
    ],
    [
      "iOS",
      `<div dir="ltr">Thanks</div><div dir="ltr"><br>⟦On Jan 1, 2024, at 10:00 AM, Bob &lt;bob@example.com&gt; wrote:<br><br></div><blockquote type="cite"><div dir="ltr">old</div></blockquote>`
    ],
    ["Thunderbird", `<p>Thanks</p>⟦<div class="moz-cite-prefix">On 01/01/2024 10:00, Bob wrote:<br></div><blockquote type="cite">old</blockquote>`],
    ["Yahoo", `<div>Thanks</div><div><br></div>⟦<div id="ydp1yahoo_quoted_123" class="ydp1yahoo_quoted"><div>On Monday, Bob wrote:</div></div>`],
    ["Zimbra", `<div>Thanks</div>⟦<hr id="zwchr"><div><b>From: </b>Bob</div>`],
    ["Hotmail", `<div>Thanks</div>⟦<div><hr id="stopSpelling">Date: Mon<br>From: Bob</div>`],
    [
      "Outlook 2003 hr",
      `<p>Thanks</p>⟦<div><div align=center><font><span><hr size=2 width="100%" align=center tabindex=-1></span></font></div><p><b><font>From:</font></b> Bob<br><b>Sent:</b> Monday</p></div>`
    ],
    ["bare From/Sent block", `<p>Thanks</p>⟦<p class="MsoNormal"><b><span>From:</span></b><span> Bob<br><b>Sent:</b> Monday<br><b>To:</b> Jane</span></p>`],
    [
      "Lotus Notes",
      `<p>Thanks</p><br>⟦<font size=2 color=#5f5f5f>From:</font>\t<font size=2>Bob</font><br><font size=2 color=#5f5f5f>To:</font>\t<font size=2>Jane</font>`
    ],
    ["banner", `<div>Thanks</div>⟦<div>-----Original Message-----<br>From: Bob</div>`],
    ["Notes banner", `<div>Thanks</div><br>⟦-----"John Smith" &lt;john@example.com&gt; wrote: -----<br><br>To: Jane`],
    ["attribution before blockquote", `Alex<br><br>⟦26.06.2014, 14:41, "Alexander" &lt;<a href="mailto:a@b.c">a@b.c</a>&gt;:<blockquote>old</blockquote>`],
    ["body end", `<html><body><div>Thanks</div>⟦</body></html>`],
    [
      "Thunderbird bottom-posted",
      `<html><head><title>Re: x</title></head><body><p><br></p><div class="moz-cite-prefix">On 01/01/2024 10:00, Bob wrote:<br></div><blockquote type="cite">old</blockquote><p>New text</p>⟦</body></html>`
    ],
    [
      "Apple Mail bottom-posted",
      `<html><body><div><br><blockquote type="cite"><div>On Jan 1, 2024, at 10:00, Bob wrote:</div><div>old</div></blockquote></div><div>New</div>⟦</body></html>`
    ],
    [
      "Apple Mail forward without a comment stays on top",
      `<html><body>⟦<div><blockquote type="cite"><div>Begin forwarded message:</div><div>old</div></blockquote></div></body></html>`
    ],
    [
      "Gmail forward without a comment stays on top",
      `<div dir="ltr"><br>⟦<div class="gmail_quote">---------- Forwarded message ---------<br>From: Bob</div></div>`
    ],
    ["CSS in head is not a separator", `<html><head><style>div.x{border-top:solid #E1E1E1 1.0pt}</style></head><body><div>Thanks</div>⟦</body></html>`],
    ["plain blockquote without attribution is the user's", `<div>As the docs say</div><blockquote>quote</blockquote><div>Thanks</div>⟦</body>`],
    ["a colon is not an attribution", `<div>The docs say:</div><blockquote>quote</blockquote><div>Thanks</div>⟦</body>`]
  ])("%s", (_, marked) => html(marked))
})
