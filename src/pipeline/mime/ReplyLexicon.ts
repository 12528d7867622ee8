import { BANNER_FORMS, FROM_LABEL_FORMS, OTHER_LABEL_FORMS } from "./lexicon/ReplyLexiconData.js"

/**
 * The words mail clients put above a quoted message. Shared by the plain-text
 * and the HTML separator detection. Most come from the clients' own
 * localisation files (./lexicon, generated); the hand lists below add what
 * those do not carry (Outlook's, Gmail's and Apple Mail's strings).
 */

/** "-----Original Message-----", "---------- Forwarded message ---------" and their translations */
const HAND_BANNER_PHRASES = [
  "original message",
  "forwarded message",
  "ursprüngliche nachricht",
  "ursprungliche nachricht",
  "weitergeleitete nachricht",
  "message d'origine",
  "message d’origine",
  "message original",
  "message transféré",
  "mensaje original",
  "mensaje reenviado",
  "messaggio originale",
  "messaggio inoltrato",
  "oorspronkelijk bericht",
  "origineel bericht",
  "doorgestuurd bericht",
  "originalmeddelande",
  "ursprungligt meddelande",
  "vidarebefordrat meddelande",
  "oprindelig meddelelse",
  "videresendt meddelelse",
  "opprinnelig melding",
  "videresendt melding",
  "alkuperäinen viesti",
  "välitetty viesti",
  "mensagem original",
  "mensagem encaminhada",
  "wiadomość oryginalna",
  "oryginalna wiadomość",
  "przekazana wiadomość",
  "původní zpráva",
  "přeposlaná zpráva",
  "eredeti üzenet",
  "исходное сообщение",
  "пересылаемое сообщение",
  "пересланное сообщение",
  "原始邮件",
  "原始郵件",
  "转发邮件",
  "轉寄郵件",
  "元のメッセージ",
  "転送メッセージ",
  "원본 메시지",
  "전달된 메시지"
]

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const lower = (forms: ReadonlyArray<readonly [string, string]>): Array<string> => forms.map(([f]) => f.normalize("NFC").toLowerCase())
const distinct = (...lists: ReadonlyArray<ReadonlyArray<string>>): Array<string> => [...new Set(lists.flat())].sort((a, b) => b.length - a.length) // longest first: "von" before "vo"

/** every banner phrase: the hand list and the clients' "Original Message"/"Forwarded Message" strings */
export const BANNER_PHRASES = distinct(HAND_BANNER_PHRASES, lower(BANNER_FORMS))

/** a banner line: dashes (or underscores), a known phrase, dashes */
export const BANNER = new RegExp(`^[ \\t>]*[-_=*]{2,}\\s*(?:${BANNER_PHRASES.map(escapeRegExp).join("|")})\\s*[-_=*]{2,}\\s*$`, "iu")

/** Apple Mail's forward attribution */
export const BEGIN_FORWARDED =
  /^\s*(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|inicio del mensaje reenviado)\s*:\s*$/iu

/**
 * The end of an attribution line ("On … wrote:", "Am … schrieb …:", …). Only
 * the end is matched: the start varies (date first, name first) and may sit on
 * the line before when the client wrapped it.
 */
export const ATTRIBUTION_END = new RegExp(
  "(?:" +
    [
      "(?<!\\p{L})wrote(?:\\s+on\\s+[^\\r\\n]{1,80})?",
      "(?<!\\p{L})writes",
      "(?<!\\p{L})schrieb(?:\\s+[^:：]{1,120})?",
      "(?<!\\p{L})a\\s+écrit",
      "(?<!\\p{L})escribió",
      "(?<!\\p{L})ha\\s+scritto",
      "(?<!\\p{L})schreef(?:\\s+[^:：]{1,120})?",
      "(?<!\\p{L})escreveu",
      "(?<!\\p{L})skrev(?:\\s+[^:：]{1,120})?",
      "(?<!\\p{L})napisał\\(a\\)",
      "(?<!\\p{L})napisała",
      "(?<!\\p{L})napisał",
      "(?<!\\p{L})kirjoitti",
      "(?<!\\p{L})napsal\\(a\\)",
      "(?<!\\p{L})napsal",
      "(?<!\\p{L})írta",
      "писал\\(а\\)",
      "писала",
      "писал",
      "のメッセージ",
      "書きました",
      "写道",
      "寫道",
      "작성"
    ].join("|") +
    ")\\s*[:：]\\s*$",
  "iu"
)

/** how an attribution line starts, used to join a wrapped attribution with the line above it */
export const ATTRIBUTION_START = /^\s*(?:on|am|le|el|il|op|em|den|d\.|w dniu|dne|el día|le \d|\d{1,4}[./-]|\d{1,2}\s|[0-9]{4}年|在|20\d\d)/iu

/** header labels of the "From: / Sent: / To: / Subject:" block that Outlook and others put above a quote */
const HAND_FROM_LABELS = [
  "from",
  "von",
  "de",
  "da",
  "van",
  "från",
  "fra",
  "od",
  "от",
  "от кого",
  "lähettäjä",
  "feladó",
  "发件人",
  "寄件者",
  "差出人",
  "보낸 사람"
]

const HAND_OTHER_LABELS = [
  "sent",
  "date",
  "to",
  "subject",
  "cc",
  "gesendet",
  "datum",
  "an",
  "betreff",
  "envoyé",
  "à",
  "objet",
  "enviado",
  "fecha",
  "para",
  "asunto",
  "inviato",
  "data",
  "a",
  "oggetto",
  "verzonden",
  "aan",
  "onderwerp",
  "skickat",
  "till",
  "ämne",
  "sendt",
  "til",
  "emne",
  "wysłano",
  "do",
  "temat",
  "отправлено",
  "дата",
  "кому",
  "тема",
  "lähetetty",
  "vastaanottaja",
  "aihe",
  "发送时间",
  "收件人",
  "主题",
  "日期",
  "送信日時",
  "宛先",
  "件名",
  "보낸 날짜",
  "받는 사람",
  "제목"
]

/**
 * Header block labels: the hand lists (Outlook's) and the clients' own. Very
 * short generated labels ("O", "No", "Si") are left out unless a hand list has
 * them: too many ordinary lines start with them.
 */
export const FROM_LABELS = distinct(
  HAND_FROM_LABELS,
  lower(FROM_LABEL_FORMS).filter((l) => l.length >= 3)
)
export const OTHER_LABELS = distinct(
  HAND_OTHER_LABELS,
  lower(OTHER_LABEL_FORMS).filter((l) => l.length >= 2)
)

const labelGroup = (labels: ReadonlyArray<string>): string => `(?:${labels.map(escapeRegExp).join("|")})`

/** "From:", "*From:*", "De :", "发件人：" at the start of a (text) line */
export const FROM_LINE = new RegExp(`^[ \\t]*\\*?${labelGroup(FROM_LABELS)}\\s?\\*?\\s?[:：]`, "iu")
export const OTHER_HEADER_LINE = new RegExp(`^[ \\t]*\\*?${labelGroup(OTHER_LABELS)}\\s?\\*?\\s?[:：]`, "iu")

/** an attribution without a verb: "11:00 AM, November 17, 2021, "John" <john@example.com>:" */
export const ATTRIBUTION_ADDRESS = /\d.{0,200}[\w.+-]+@[\w-]+(?:\.[\w-]+)+>?\s*[:：]\s*$/u

/**
 * A mobile client's sign-off. Some clients append the original message below
 * it without any quote marker, so the signature goes right after it.
 */
export const SENT_FROM = new RegExp(
  "^\\s*(?:" +
    [
      "sent from my \\S.{0,60}",
      "sent from \\S.{0,40} for (?:iphone|ipad|android)",
      "get outlook for (?:ios|android)",
      "von meinem \\S.{0,40} gesendet",
      "gesendet von meinem \\S.{0,40}",
      "envoyé de mon \\S.{0,40}",
      "enviado desde mi \\S.{0,40}",
      "enviado do meu \\S.{0,40}",
      "inviato da(?:l mio)? \\S.{0,40}",
      "verzonden (?:vanaf|met) (?:mijn )?\\S.{0,40}",
      "skickat från min \\S.{0,40}",
      "wysłane z (?:mojego )?\\S.{0,40}",
      "отправлено с (?:моего )?\\S.{0,40}",
      "\\S{1,20}から送信"
    ].join("|") +
    ")\\s*$",
  "iu"
)

/** Lotus/HCL Notes: "-----"John Smith" <john@example.com> wrote: -----" (and "… a écrit : -----") */
export const NOTES_HEADER = /^\s*-{3,}\s*\S.{0,200}?\s(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev)\s*[:：]?\s*-{3,}\s*$/iu
