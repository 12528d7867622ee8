/**
 * The corpus the specs run on: unmodified copies of messages and reply fixtures from
 * public test suites, vendored in spec/fixtures/corpus (sources, commits and licences
 * in its index.json and README.md), so a fresh clone tests with nothing beside it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const CORPUS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/corpus")

export const corpusMessages = (): Array<{ name: string; bytes: Buffer }> =>
  fs
    .readdirSync(path.join(CORPUS_DIR, "messages"))
    .sort()
    .map((name) => ({ name, bytes: fs.readFileSync(path.join(CORPUS_DIR, "messages", name)) }))

/** What an SMTP client puts on the wire: every line ending (CRLF, lone LF, lone CR) as CRLF. */
export const toCrlf = (bytes: Buffer): Buffer => Buffer.from(bytes.toString("latin1").replace(/\r\n|\r|\n/g, "\r\n"), "latin1")

/**
 * Removes exactly the lines Imprint puts in front of a message: its Received
 * field (ending in the "+0000" date) and its X-Imprint-Loop field (ending in
 * the MAC). The message's own first line may start with whitespace, so folding
 * alone cannot tell where they end.
 */
export const stripImprintHeaders = (raw: Buffer): Buffer => {
  const text = raw.toString("latin1")
  const m = /^Received: from [^\r\n]*?\(Imprint\)[\s\S]*? \+0000\r\n(?:X-Imprint-Loop: [^\r\n]*(?:\r\n [^\r\n]*)*?mac=[A-Za-z0-9_-]{43}\r\n)?/.exec(text)
  return m ? Buffer.from(text.slice(m[0].length), "latin1") : raw
}
