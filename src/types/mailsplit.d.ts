/** Types for mailsplit 5 (the package ships none). Only what Imprint uses. */
declare module "mailsplit" {
  import { Transform, TransformOptions } from "node:stream"

  export interface Headers {
    get(key: string): string[]
    getFirst(key: string): string
    hasHeader(key: string): boolean
    add(key: string, value: string, index?: number): void
    update(key: string, value: string, relativeKeyIndex?: number): void
    remove(key: string): void
    getList(): Array<{ key: string; line: string }>
    build(lineEnd?: string): Buffer
    changed: boolean
    mbox: string | false
  }

  export interface MimeNode {
    type: "node"
    root: boolean
    headers: Headers
    contentType: string | false
    /** lower-cased disposition type as written (RFC 2183 allows others; unknown ones mean attachment) */
    disposition: string | false
    charset: string | false
    encoding: string | false
    multipart: string | false
    filename: string | false
    /** format=flowed and delsp=yes from Content-Type */
    flowed: boolean
    delSp: boolean
    /** true for message/rfc822 containers (their child is an embedded message root) */
    rfc822: boolean
    /** the parent node, false at the root */
    parentNode: MimeNode | false
    /** IMAP-style part number, e.g. [1, 2], ["TEXT"] for a (embedded) message's own body */
    partNr: Array<number | string> | false
    /** message/rfc822 container whose content mailsplit splits as an embedded message */
    messageNode?: boolean
    getHeaders(): Buffer
    setContentType(contentType: string): void
    setCharset(charset: string): void
    setFilename(filename: string): void
    getDecoder(): Transform
    getEncoder(encoding?: string): Transform
  }

  export interface DataChunk {
    type: "data"
    value: Buffer
  }

  export interface BodyChunk {
    type: "body"
    value: Buffer
    node: MimeNode
  }

  export type SplitterChunk = MimeNode | DataChunk | BodyChunk

  export interface SplitterOptions extends TransformOptions {
    ignoreEmbedded?: boolean
    maxHeadSize?: number
    /** parts (nodes) one message may have before the Splitter fails; mailsplit's default is 1,000 */
    maxChildNodes?: number
  }

  export class Splitter extends Transform {
    constructor(options?: SplitterOptions)
  }

  export class Joiner extends Transform {
    constructor(options?: TransformOptions)
  }

  export class Rewriter extends Transform {
    constructor(filter: (node: MimeNode) => boolean, options?: TransformOptions)
  }

  export class Streamer extends Transform {
    constructor(filter: (node: MimeNode) => boolean, options?: TransformOptions)
  }
}

declare module "mailsplit/lib/mime-node.js" {
  const MimeNode: new (parent: unknown, config: object) => unknown
  export default MimeNode
}
