import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, Layer } from "effect"
import { createImageHttpServer, imageApp, type ImageServerOptions, imageUrl } from "./images/ImageServer.js"

/**
 * The image listener's part of the composition root, as AdminRoot.ts is the
 * admin server's: the images room provides the app and the listener's parts
 * (src/images/ImageServer.ts); the Layer is composed and built here.
 */

/** The image listener as a scoped Layer: imageApp served on its HTTP or HTTPS listener. Needs ImageRepo. */
export const imageServerLayer = (options: ImageServerOptions) =>
  HttpServer.serve(imageApp).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => createImageHttpServer(options.tls), { host: options.host, port: options.port }))
  )

/** Starts the image listener in the current scope; answers its URL. Needs ImageRepo. */
export const startImageServer = Effect.fn("ImageServer.start")(function* (options: ImageServerOptions) {
  const context = yield* Layer.build(imageServerLayer(options))
  const address = Context.get(context, HttpServer.HttpServer).address
  const port = address._tag === "TcpAddress" ? address.port : options.port
  return { port, url: imageUrl(options.host, port, options.tls !== undefined) }
})
