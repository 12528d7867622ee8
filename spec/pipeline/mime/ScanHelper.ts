/**
 * Runs a separator scanner the way the splicer does: over a growing window fed
 * in pieces, dropping what the scanner declares safe. `⟦` in a body marks where
 * the signature must go (none, or at the very end, means "the end").
 */
import { expect } from "vitest"
import { HtmlSeparatorScanner } from "../../../src/pipeline/mime/HtmlSeparators.js"
import { type SeparatorScanner, TextSeparatorScanner } from "../../../src/pipeline/mime/TextSeparators.js"

export const MARK = "⟦"

const expectation = (marked: string): { body: string; at: number } => {
  const body = marked.replace(MARK, "")
  const at = marked.indexOf(MARK)
  return { body, at: at === body.length ? -1 : at }
}

/** the insertion index the scanner finds over `body` fed in pieces of `piece` characters (-1: the end) */
export const scanInPieces = (make: () => SeparatorScanner, body: string, piece: number): number => {
  const scanner = make()
  let window = ""
  let dropped = 0
  for (let i = 0; i <= body.length; i += piece) {
    window += body.slice(i, i + piece)
    const final = i + piece >= body.length
    const r = scanner.scan(window, final)
    if (r.hit !== undefined) return dropped + r.hit
    if (final) return -1
    const cut = Math.min(r.safe, window.length)
    window = window.slice(cut)
    scanner.shift(cut)
    dropped += cut
  }
  return -1
}

const check = (make: () => SeparatorScanner, marked: string): void => {
  const { body, at } = expectation(marked)
  for (const piece of [body.length + 1, 7, 64]) {
    const got = scanInPieces(make, body, piece)
    expect(got === -1 ? "(end)" : body.slice(got, got + 40), `piece ${piece}`).toBe(at === -1 ? "(end)" : body.slice(at, at + 40))
  }
}

export const expectText = (marked: string): void => check(() => new TextSeparatorScanner(), marked)
export const expectHtml = (marked: string): void => check(() => new HtmlSeparatorScanner(), marked)
