import { parseDocument } from "htmlparser2"
import type { ChildNode, Element } from "domhandler"

/**
 * The plain-text version of an HTML signature, for templates without a text
 * body. Applied to the template (placeholders kept as text), so the rendered
 * text gets plain-text value handling. Links become "text <url>" (the url alone
 * when the text says the same), table rows become lines with their cells
 * joined by " | ", block elements break lines, images in links stand for
 * their alt text, and nothing of the markup remains.
 */

const BLOCK = new Set([
  "address",
  "article",
  "aside",
  "blockquote",
  "center",
  "dd",
  "div",
  "dl",
  "dt",
  "footer",
  "form",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "header",
  "li",
  "main",
  "nav",
  "ol",
  "p",
  "pre",
  "section",
  "table",
  "tbody",
  "tfoot",
  "thead",
  "ul",
  "caption"
])
const SKIPPED = new Set(["script", "style", "head", "title", "template", "noscript"])
const CELL_SEPARATOR = " | "
const RULE_LINE = "----"

/** Lines under construction; whitespace inside a line collapses when it is ended. */
class Lines {
  readonly done: string[] = []
  private current = ""
  add(text: string): void {
    this.current += text
  }
  /** ends the current line if it has content (block boundaries) */
  soft(): void {
    const line = this.current.replace(/\s+/g, " ").trim()
    if (line !== "") this.done.push(line)
    this.current = ""
  }
  /** ends the current line even when empty (<br>) */
  hard(): void {
    const line = this.current.replace(/\s+/g, " ").trim()
    this.done.push(line)
    this.current = ""
  }
  finish(): string[] {
    this.soft()
    return this.done
  }
}

const isElement = (node: ChildNode): node is Element => node.type === "tag" || node.type === "script" || node.type === "style"

/** The text of a link or cell on one line: inline content, images standing for their alt text. */
const inlineText = (nodes: ReadonlyArray<ChildNode>): string => {
  const lines = new Lines()
  walk(nodes, lines, true)
  return lines.finish().join(" ").replace(/\s+/g, " ").trim()
}

/**
 * Marks around a link target holding placeholders, so the text compiler renders
 * it as a URL (allowed schemes only) rather than as text. Private-use
 * characters; the same characters in the HTML are dropped.
 */
export const URL_SPAN_BARE = "\uE010"
export const URL_SPAN_DECORATED = "\uE012"
export const URL_SPAN_END = "\uE011"
const SPAN_CHARS = /[\uE010-\uE012]/g

const link = (element: Element, lines: Lines): void => {
  const text = inlineText(element.children)
  const href = (element.attribs.href ?? "").replace(SPAN_CHARS, "").trim()
  if (href === "") return lines.add(text)
  const templated = href.includes("{{")
  const url = (decorated: boolean) => (templated ? `${decorated ? URL_SPAN_DECORATED : URL_SPAN_BARE}${href}${URL_SPAN_END}` : decorated ? ` <${href}>` : href)
  if (text === "" || text === href) return lines.add(url(false))
  if (text === href.replace(/^(mailto|tel):/i, "")) return lines.add(text)
  lines.add(`${text}${url(true)}`)
}

/** A table row: one line when every cell fits on one, else the cells as blocks. */
const row = (element: Element, lines: Lines): void => {
  const cells: string[][] = []
  for (const child of element.children) {
    if (isElement(child) && (child.name === "td" || child.name === "th")) {
      const cell = new Lines()
      walk(child.children, cell, false)
      const out = cell.finish().filter((l, i, all) => l !== "" || (i > 0 && i < all.length - 1))
      if (out.length > 0) cells.push(out)
    } else walk([child], lines, false)
  }
  lines.soft()
  if (cells.every((c) => c.length === 1)) {
    const line = cells.map((c) => c[0]).join(CELL_SEPARATOR)
    if (line !== "") lines.done.push(line)
  } else for (const cell of cells) lines.done.push(...cell)
}

const walk = (nodes: ReadonlyArray<ChildNode>, lines: Lines, inline: boolean): void => {
  for (const node of nodes) {
    if (node.type === "text") {
      lines.add(node.data.replace(SPAN_CHARS, ""))
      continue
    }
    if (!isElement(node)) continue
    const name = node.name
    if (SKIPPED.has(name)) continue
    if (name === "br") {
      if (inline) lines.add(" ")
      else lines.hard()
    } else if (name === "hr") {
      if (!inline) {
        lines.soft()
        lines.done.push(RULE_LINE)
      }
    } else if (name === "a") link(node, lines)
    else if (name === "img") {
      // Inside a link an image is the link's text; elsewhere (logos, spacers) it says nothing.
      if (inline) lines.add((node.attribs.alt ?? "").trim())
    } else if (name === "tr" && !inline) row(node, lines)
    else if ((name === "td" || name === "th") && !inline) {
      lines.soft()
      walk(node.children, lines, false)
      lines.soft()
    } else if (BLOCK.has(name) && !inline) {
      lines.soft()
      walk(node.children, lines, false)
      lines.soft()
    } else {
      if (inline && BLOCK.has(name)) lines.add(" ")
      walk(node.children, lines, inline)
      if (inline && BLOCK.has(name)) lines.add(" ")
    }
  }
}

/** Converts HTML to plain text (entities decoded, whitespace collapsed, at most one blank line in a row). */
export const htmlToText = (html: string): string => {
  const document = parseDocument(html, { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true })
  const lines = new Lines()
  walk(document.children, lines, false)
  return lines
    .finish()
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+|\n+$/g, "")
}
