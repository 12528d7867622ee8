/**
 * The self-signed certificate Imprint generates into its data folder is what the
 * README tells operators to trust (`curl --cacert var/data/tls/self-signed.cert.pem
 * https://127.0.0.1:8443/…`): it must name 127.0.0.1 as an IP address and localhost.
 */
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { loadTlsMaterial } from "../src/Secrets.js"
import selfsigned from "selfsigned"

const folders: string[] = []
const newDataDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-cert-"))
  folders.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of folders.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const generate = (dataDir: string, commonName = "127.0.0.1") => Effect.runPromise(loadTlsMaterial({ dataDir, commonName }))

/** An HTTPS request that verifies the server's certificate against `ca` (as curl --cacert does). */
const verifiedGet = (tls: { key: string; cert: string }, host: string) =>
  new Promise<number>((resolve, reject) => {
    const server = https.createServer({ key: tls.key, cert: tls.cert }, (_req, res) => res.end("ok"))
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      const req = https.get(
        { host: "127.0.0.1", servername: host === "127.0.0.1" ? undefined : host, port, ca: tls.cert, path: "/", headers: { host } },
        (res) => {
          res.resume()
          res.on("end", () => server.close(() => resolve(res.statusCode ?? 0)))
        }
      )
      req.on("error", (e) => server.close(() => reject(e)))
    })
  })

describe("generated certificate", () => {
  it("names IP 127.0.0.1 and DNS localhost, so clients verifying against it connect to either", async () => {
    const dataDir = newDataDir()
    const tls = await generate(dataDir)
    const cert = new X509Certificate(tls.cert)
    expect(cert.subjectAltName?.split(", ")).toEqual(expect.arrayContaining(["IP Address:127.0.0.1", "DNS:localhost"]))
    expect(fs.readFileSync(path.join(dataDir, "tls", "self-signed.cert.pem"), "utf8")).toBe(tls.cert)
    expect(await verifiedGet(tls, "127.0.0.1")).toBe(200)
    expect(await verifiedGet(tls, "localhost")).toBe(200)
    // reused on the next start
    expect((await generate(dataDir)).cert).toBe(tls.cert)
  })

  it("adds a configured listen name or address to the loopback names", async () => {
    const dataDir = newDataDir()
    const cert = new X509Certificate((await generate(dataDir, "relay.example.org")).cert)
    expect(cert.subjectAltName?.split(", ")).toEqual(expect.arrayContaining(["IP Address:127.0.0.1", "DNS:localhost", "DNS:relay.example.org"]))
  })

  it("replaces a certificate an earlier version generated without the IP address", async () => {
    const dataDir = newDataDir()
    fs.mkdirSync(path.join(dataDir, "tls"))
    // what earlier versions wrote: selfsigned's default names, the host as a DNS name only
    // (a DNS name "127.0.0.1" matches no IP address)
    const pems = await selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }], { keySize: 2048, algorithm: "sha256" })
    const legacy = { key: pems.private, cert: pems.cert }
    expect(new X509Certificate(legacy.cert).checkIP("127.0.0.1")).toBeUndefined()
    fs.writeFileSync(path.join(dataDir, "tls", "self-signed.key.pem"), legacy.key)
    fs.writeFileSync(path.join(dataDir, "tls", "self-signed.cert.pem"), legacy.cert)
    const tls = await generate(dataDir)
    expect(tls.cert).not.toBe(legacy.cert)
    expect(new X509Certificate(tls.cert).checkIP("127.0.0.1")).toBe("127.0.0.1")
  })
})
