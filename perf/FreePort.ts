import * as net from "node:net"

/** A free loopback port (Imprint's config and Postfix's master.cf take a number, not 0). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      s.close(() => (a !== null && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))))
    })
  })
