#!/usr/bin/env node
// Generates src/pipeline/mime/lexicon/ReplyLexiconData.ts: the reply and forward headers that mail
// clients write, read from the clients' own public localisation files (facts, not code).
//
//   node tools/lexicon/generate.mjs --thunderbird DIR --k9 DIR --roundcube DIR [--out FILE]
//
// Each DIR is a git directory (a clone or a bare mirror) of, in order:
//   thunderbird/thunderbird-l10n   <locale>/mail/chrome/messenger/messengercompose/composeMsgs.properties
//                                  (mailnews.reply_header_*, mailnews.forward_header_originalmessage)
//                                  <locale>/mail/chrome/messenger/mimeheader.properties (header labels)
//   thunderbird/thunderbird-android legacy/ui/legacy/src/main/res/values-*/strings.xml
//                                  (K-9 Mail: message_compose_reply_header_fmt*, message_compose_quote_header_*)
//   roundcube/roundcubemail        program/localization/<locale>/labels.inc
//                                  (mailreplyintro, originalmessage, from/to/cc/date/subject)
// The files are read at the repository's HEAD with `git show`; the commit is recorded in the output.
// Forms keep the client's own words; placeholders become {author}, {date}, {time}.

import { execFileSync } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"

const HERE = path.dirname(fileURLToPath(import.meta.url))
const DEFAULT_OUT = path.join(HERE, "..", "..", "src", "pipeline", "mime", "lexicon", "ReplyLexiconData.ts")

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []))
for (const k of ["thunderbird", "k9", "roundcube"]) {
  if (!args[k]) {
    console.error(`missing --${k} DIR (see the header of ${path.basename(fileURLToPath(import.meta.url))})`)
    process.exit(2)
  }
}
const out = args.out ?? DEFAULT_OUT

const git = (dir, ...a) => execFileSync("git", ["--git-dir", gitDir(dir), ...a], { encoding: "utf8", maxBuffer: 64 << 20 })
const gitDir = (dir) => (fs.existsSync(path.join(dir, ".git")) ? path.join(dir, ".git") : dir)
const show = (dir, file) => {
  try {
    return git(dir, "show", `HEAD:${file}`)
  } catch {
    return undefined
  }
}
const ls = (dir, folder) =>
  git(dir, "ls-tree", "--name-only", "HEAD", `${folder}/`)
    .split("\n")
    .filter(Boolean)
    .map((p) => path.basename(p))
const head = (dir) => git(dir, "rev-parse", "HEAD").trim()

/** BCP 47-ish language tag from a locale folder name: de_DE -> de-DE, values-pt-rBR -> pt-BR */
const lang = (locale) =>
  locale
    .replace(/^values-?/, "")
    .replace("-r", "-")
    .replace("_", "-") || "en"

const forms = [] // [lang, source, kind, text]
const add = (l, source, kind, text) => {
  const t = text.replace(/\s+/g, " ").trim()
  if (t !== "") forms.push([l, source, kind, t])
}

// ── Thunderbird desktop ───────────────────────────────────────────────────────────────────────
const properties = (text) => {
  const map = new Map()
  for (const line of (text ?? "").split(/\r?\n/)) {
    const m = /^\s*([\w.-]+)\s*[=:]\s*(.*)$/.exec(line)
    if (m && !line.trimStart().startsWith("#"))
      map.set(
        m[1],
        m[2].replace(/\\u([0-9a-fA-F]{4})/g, (_, h) => String.fromCharCode(parseInt(h, 16)))
      )
  }
  return map
}
const tbPlaceholders = (s) => s.replace(/#1/g, "{author}").replace(/#2/g, "{date}").replace(/#3/g, "{time}")
const tb = args.thunderbird
const tbLocales = git(tb, "ls-tree", "-d", "--name-only", "HEAD")
  .split("\n")
  .filter((l) => /^[a-z]{2,3}(-[A-Za-z]+)*$/.test(l))
for (const locale of tbLocales) {
  const compose = properties(show(tb, `${locale}/mail/chrome/messenger/messengercompose/composeMsgs.properties`))
  for (const key of ["mailnews.reply_header_authorwrotesingle", "mailnews.reply_header_ondateauthorwrote", "mailnews.reply_header_authorwroteondate"]) {
    if (compose.has(key)) add(lang(locale), "thunderbird", "attribution", tbPlaceholders(compose.get(key)))
  }
  for (const key of ["mailnews.reply_header_originalmessage", "mailnews.forward_header_originalmessage"]) {
    if (compose.has(key)) add(lang(locale), "thunderbird", "banner", compose.get(key).replace(/^[-\s]+|[-\s]+$/g, ""))
  }
  const labels = properties(show(tb, `${locale}/mail/chrome/messenger/mimeheader.properties`))
  for (const [key, kind] of [
    ["FROM", "from"],
    ["SENDER", "from"],
    ["TO", "label"],
    ["CC", "label"],
    ["DATE", "label"],
    ["SUBJECT", "label"]
  ]) {
    if (labels.has(key)) add(lang(locale), "thunderbird", kind, labels.get(key).replace(/[:：]\s*$/, ""))
  }
}

// ── K-9 Mail (Thunderbird for Android) ────────────────────────────────────────────────────────
const K9_RES = "legacy/ui/legacy/src/main/res"
const k9 = args.k9
const xmlText = (s) =>
  s
    .replace(/<xliff:g id="([^"]+)"[^>]*>[^<]*<\/xliff:g>/g, (_, id) => (/date/.test(id) ? "{date}" : "{author}"))
    .replace(/%(\d\$)?s/g, "{author}")
    .replace(/\\'/g, "'")
    .replace(/\\"/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/^"|"$/g, "")
for (const folder of ls(k9, K9_RES).filter((f) => f === "values" || /^values-[a-z]{2,3}(-r[A-Z]{2})?$/.test(f))) {
  const xml = show(k9, `${K9_RES}/${folder}/strings.xml`)
  if (xml === undefined) continue
  const strings = new Map([...xml.matchAll(/<string name="([\w]+)"[^>]*>([\s\S]*?)<\/string>/g)].map((m) => [m[1], xmlText(m[2])]))
  const l = lang(folder)
  for (const key of ["message_compose_reply_header_fmt", "message_compose_reply_header_fmt_with_date"]) {
    if (strings.has(key)) add(l, "k9", "attribution", strings.get(key))
  }
  if (strings.has("message_compose_quote_header_separator")) {
    add(l, "k9", "banner", strings.get("message_compose_quote_header_separator").replace(/^[-\s]+|[-\s]+$/g, ""))
  }
  for (const [key, kind] of [
    ["from", "from"],
    ["to", "label"],
    ["cc", "label"],
    ["subject", "label"],
    ["send_date", "label"]
  ]) {
    const v = strings.get(`message_compose_quote_header_${key}`)
    if (v !== undefined) add(l, "k9", kind, v.replace(/[:：]\s*$/, ""))
  }
}

// ── Roundcube ─────────────────────────────────────────────────────────────────────────────────
const rc = args.roundcube
const phpLabels = (text) => {
  const map = new Map()
  for (const m of (text ?? "").matchAll(/\$labels\['(\w+)'\]\s*=\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*;/g)) {
    map.set(m[1], (m[2] ?? m[3]).replace(/\\(['"\\])/g, "$1"))
  }
  return map
}
for (const locale of ls(rc, "program/localization").filter((f) => !f.includes("."))) {
  const labels = phpLabels(show(rc, `program/localization/${locale}/labels.inc`))
  const l = lang(locale)
  if (labels.has("mailreplyintro"))
    add(
      l,
      "roundcube",
      "attribution",
      labels
        .get("mailreplyintro")
        .replace(/\$date/g, "{date}")
        .replace(/\$sender/g, "{author}")
    )
  if (labels.has("originalmessage")) add(l, "roundcube", "banner", labels.get("originalmessage"))
  for (const [key, kind] of [
    ["from", "from"],
    ["to", "label"],
    ["cc", "label"],
    ["date", "label"],
    ["subject", "label"]
  ]) {
    if (labels.has(key)) add(l, "roundcube", kind, labels.get(key))
  }
}

// ── output ────────────────────────────────────────────────────────────────────────────────────
const unique = (kind) => {
  const seen = new Map() // lower-cased text -> [text, Set(lang)]
  for (const [l, , k, t] of forms) {
    if (k !== kind) continue
    const key = t.toLowerCase()
    if (!seen.has(key)) seen.set(key, [t, new Set()])
    seen.get(key)[1].add(l.split("-")[0])
  }
  return [...seen.values()].map(([t, ls]) => [t, [...ls].sort().join(" ")]).sort((a, b) => a[0].localeCompare(b[0], "en"))
}
const languages = new Set(forms.map(([l]) => l.split("-")[0]))
const sources = [
  { source: "thunderbird", repository: "thunderbird/thunderbird-l10n", commit: head(tb), licence: "MPL-2.0" },
  { source: "k9", repository: "thunderbird/thunderbird-android", commit: head(k9), licence: "Apache-2.0" },
  { source: "roundcube", repository: "roundcube/roundcubemail", commit: head(rc), licence: "GPL-3.0-or-later (localisation strings)" }
].map((s) => ({
  ...s,
  forms: forms.filter((f) => f[1] === s.source).length,
  languages: new Set(forms.filter((f) => f[1] === s.source).map((f) => f[0].split("-")[0])).size
}))

const list = (name, doc, rows) =>
  `/** ${doc} */\nexport const ${name}: ReadonlyArray<readonly [form: string, languages: string]> = [\n${rows
    .map(([t, l]) => `  [${JSON.stringify(t)}, ${JSON.stringify(l)}]`)
    .join(",\n")}\n]\n`

const body = `// GENERATED by tools/lexicon/generate.mjs from the mail clients' public localisation files.
// Do not edit by hand: run the generator (see tools/lexicon/SOURCES.md). ${languages.size} languages, ${forms.length} forms read.

/** where every form below comes from (see tools/lexicon/SOURCES.md) */
export const LEXICON_SOURCES: ReadonlyArray<{ readonly source: string; readonly repository: string; readonly commit: string; readonly licence: string; readonly forms: number; readonly languages: number }> = ${JSON.stringify(sources, null, 2)}

/** number of distinct languages (primary subtags) the forms cover */
export const LEXICON_LANGUAGES = ${languages.size}

${list("ATTRIBUTION_FORMS", "reply attributions as the clients write them: {author}, {date}, {time} are placeholders", unique("attribution"))}
${list("BANNER_FORMS", 'the phrase of a "-------- Original Message --------" / forward banner, without its dashes', unique("banner"))}
${list("FROM_LABEL_FORMS", 'the label of the sender line in a quoted header block ("From", "Von", "De", …), without the colon', unique("from"))}
${list("OTHER_LABEL_FORMS", "the other labels of a quoted header block (To, Cc, Date, Sent, Subject, …), without the colon", unique("label"))}`
fs.mkdirSync(path.dirname(out), { recursive: true })
fs.writeFileSync(out, body)
console.log(`${out}: ${languages.size} languages, ${forms.length} forms (${sources.map((s) => `${s.source} ${s.forms}/${s.languages} languages`).join(", ")})`)
