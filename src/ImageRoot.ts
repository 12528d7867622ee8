import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer } from "effect"
import { ImageListener } from "./Listeners.js"
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

/** The image listener as a scoped Layer that provides its bound address (ImageListener). Needs ImageRepo. */
export const imageListenerLayer = (options: ImageServerOptions) =>
  Layer.effect(
    ImageListener,
    Effect.map(HttpServer.HttpServer, (server) => {
      const port = server.address._tag === "TcpAddress" ? server.address.port : options.port
      return { host: options.host, port, url: imageUrl(options.host, port, options.tls !== undefined) }
    })
  ).pipe(Layer.provide(imageServerLayer(options)))
