import { Context } from "effect"

/**
 * The HTTP(S) listeners the composition root starts beside SMTP (the SMTP one is
 * pipeline/Inbound.ts' InboundListener), as services: the Layers in AdminRoot.ts and
 * ImageRoot.ts provide them once bound, Server.ts reads the bound ports from them. Apart
 * from those files so that Server.ts names them without loading the admin API's modules
 * (a worker of `workers: N` never loads them; tools/check-imports.mjs NOT_LOADED_BY_SERVE).
 */

/** A bound listener: its host, its port (the one the system chose when configured as 0) and its URL. */
export interface BoundListener {
  readonly host: string
  readonly port: number
  readonly url: string
}

/** The admin API's HTTPS listener, bound (AdminRoot.ts adminListenerLayer). */
export class AdminListener extends Context.Tag("imprint/AdminListener")<AdminListener, BoundListener>() {}

/** The hosted image listener, bound (ImageRoot.ts imageListenerLayer). */
export class ImageListener extends Context.Tag("imprint/ImageListener")<ImageListener, BoundListener>() {}
