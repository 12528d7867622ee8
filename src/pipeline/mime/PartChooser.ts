import type { MimeNode } from "mailsplit"
import type { SkipReason } from "./StampPlan.js"

/** a `method` parameter with a value in a Content-Type (an iTIP invitation or response, RFC 5546); one regex, not one made per message */
const METHOD_PARAM = /;\s*method\s*=\s*"?[^";\s]+/i

/**
 * From the root node's headers alone: must this message pass unstamped?
 * (S/MIME and PGP/MIME, reports, fragments, invitations, TNEF.)
 */
export const classifyRoot = (root: MimeNode): SkipReason | undefined => {
  const type = root.contentType || "text/plain"
  switch (type) {
    case "multipart/signed":
      return "signed"
    case "multipart/encrypted":
      return "encrypted"
    case "application/pkcs7-mime":
    case "application/x-pkcs7-mime":
    case "application/pkcs7-signature":
    case "application/x-pkcs7-signature":
      return "pkcs7"
    case "application/pgp-encrypted":
    case "application/pgp-signature":
      return "encrypted"
    case "multipart/report":
    case "message/delivery-status":
    case "message/disposition-notification":
    case "message/feedback-report":
      return "report"
    case "message/partial":
      return "partial"
    case "text/calendar":
    case "application/ics":
      return "calendar"
    case "application/ms-tnef":
    case "application/vnd.ms-tnef":
      return "tnef"
  }
  // Exchange marks invitations and meeting responses on the root, before any body part
  const contentClass = root.headers.getFirst("Content-Class").toLowerCase()
  if (contentClass.includes("calendarmessage")) return "calendar"
  if (METHOD_PARAM.test(root.headers.getFirst("Content-Type"))) return "calendar"
  return undefined
}

/** is this node, or one of its ancestors, inside an attached message (message/rfc822)? */
export const insideAttachedMessage = (node: MimeNode): boolean => {
  for (let p = node.parentNode; p !== false; p = p.parentNode) {
    if (p.contentType === "message/rfc822" || p.rfc822) return true
  }
  return false
}

/**
 * A part of the message's own structure that means the body lives elsewhere
 * or must not be touched: a calendar part (invitation inside
 * multipart/alternative or mixed), a TNEF part, signed or encrypted content at
 * any depth (a list server wraps a signed message in multipart/mixed to add
 * its footer; RFC 1847, RFC 3156, RFC 8551). Parts of an attached message
 * (message/rfc822) do not count: the attachment leaves byte-identical.
 */
export const classifyNested = (node: MimeNode): SkipReason | undefined => {
  if (node.root || insideAttachedMessage(node)) return undefined
  switch (node.contentType) {
    case "multipart/signed":
      return "signed"
    case "multipart/encrypted":
    case "application/pgp-encrypted":
      return "encrypted"
    case "text/calendar":
    case "application/ics":
      return "calendar"
    case "application/ms-tnef":
    case "application/vnd.ms-tnef":
      return "tnef"
    case "application/pkcs7-mime":
    case "application/x-pkcs7-mime":
      return "pkcs7"
  }
  return undefined
}

const CONTAINERS = new Set(["multipart/alternative", "multipart/mixed", "multipart/related"])

/**
 * Is this node one of the message's own text bodies: text/html or text/plain,
 * not an attachment, not inside an attached message, reached only through
 * alternative/mixed/related? An attachment is a part with a file name (in
 * Content-Disposition or Content-Type) or any disposition other than
 * "inline": RFC 2183 asks that unknown dispositions be treated as attachment,
 * as readers do.
 */
export const bodyKind = (node: MimeNode): "html" | "text" | undefined => {
  const type = node.contentType || "text/plain"
  const kind = type === "text/html" ? "html" : type === "text/plain" ? "text" : undefined
  if (kind === undefined) return undefined
  if ((node.disposition !== false && node.disposition !== "inline") || node.filename) return undefined
  // a boundary on a non-multipart part makes mailsplit split it anyway: malformed, leave it alone
  if (/;\s*boundary\s*=/i.test(node.headers.getFirst("Content-Type"))) return undefined
  for (let p = node.parentNode; p !== false; p = p.parentNode) {
    if (!CONTAINERS.has(p.contentType || "")) return undefined
  }
  return kind
}

/** the nearest multipart/alternative above a node: two bodies are one body in two forms only under the same one */
export const alternativeOf = (node: MimeNode): MimeNode | undefined => {
  for (let p = node.parentNode; p !== false; p = p.parentNode) {
    if (p.contentType === "multipart/alternative") return p
  }
  return undefined
}

/** reasons that mean a signature or an encryption would break: never deliver such a message stamped */
export const isCrypto = (reason: SkipReason): boolean => reason === "signed" || reason === "encrypted" || reason === "pkcs7" || reason === "pgp-inline"
