import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { SMTPServer } from "smtp-server"

/**
 * Demo mode's downstream: a real SMTP server on 127.0.0.1 that writes each
 * message it receives to a folder as <time>-<n>.eml. Imprint relays to it
 * exactly as it would to Office 365 or Postfix, so the demo shows the real path.
 */
export const startCaptureServer = Effect.fn("CaptureServer.start")(function* (outbox: string) {
  fs.mkdirSync(outbox, { recursive: true })
  let counter = 0
  const server = new SMTPServer({
    name: "imprint-capture.localhost",
    banner: "Imprint demo capture",
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, _session, done) {
      const file = path.join(outbox, `${new Date().toISOString().replace(/[:.]/g, "-")}-${++counter}.eml`)
      const out = fs.createWriteStream(file)
      stream.pipe(out)
      out.once("finish", () => done(null, `saved as ${path.basename(file)}`))
      out.once("error", (e) => done(e))
    }
  })
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
  )
  const address = server.server.address()
  return { port: typeof address === "object" && address !== null ? address.port : 0 }
})
