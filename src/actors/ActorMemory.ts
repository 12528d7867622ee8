import type { TenantState } from "./TenantState.js"

/**
 * A warm tenant actor's memory, estimated from what it holds: cheap enough
 * to sum over every warm actor when one starts (the registry's budget). The
 * weights are calibrated by `npm run perf:tenants` (heap growth per warm
 * tenant against this estimate, README "Hosting many tenants"); they are an
 * estimate, not a measurement of the heap.
 */

/** the actor itself: its fibers, mailbox, change-feed subscription, maps and the tenant record */
export const ACTOR_BASE_BYTES = 48 * 1024
/** one address in the directory index (address and mail strings, map entries) */
export const BYTES_PER_ADDRESS = 240
/** one compiled template, per character of its source (the source, its tokens and compiled parts) */
export const BYTES_PER_TEMPLATE_CHAR = 6
/** one rendered element in the render cache (HTML and text of a signature) */
export const BYTES_PER_RENDERED = 3 * 1024
/** one decoded directory entry in the reads' cache */
export const BYTES_PER_DECODED_USER = 1024

export interface ActorHoldings {
  readonly renderCacheSize: number
  readonly decodedUsers: number
}

export const estimateBytes = (state: TenantState | undefined, holdings: ActorHoldings): number => {
  let bytes = ACTOR_BASE_BYTES + holdings.renderCacheSize * BYTES_PER_RENDERED + holdings.decodedUsers * BYTES_PER_DECODED_USER
  if (state === undefined) return bytes
  bytes += state.directory.addresses.size * BYTES_PER_ADDRESS
  for (const source of state.sources.values()) bytes += source.length * BYTES_PER_TEMPLATE_CHAR
  for (const image of state.imageBytes.values()) bytes += image.byteLength
  return bytes
}
