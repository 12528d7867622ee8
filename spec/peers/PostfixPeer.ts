/**
 * A real Postfix instance of its own (config, queue and data folders in a temp
 * folder, smtpd on 127.0.0.1), configured exactly as README.md's Postfix guide
 * says: relayhost = Imprint, TLS required towards it, bound by source address.
 * Needs Debian's postfix package and root (master drops to the postfix user);
 * .ci/run installs it. Nothing here resolves a host name: every address is an
 * IP literal and DNS lookups are turned off.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { baseMainCf } from "../../perf/PostfixPeer.js"

export interface PostfixInstance {
  readonly port: number
  readonly dir: string
  readonly log: () => string
  readonly stop: () => void
}

/** The main.cf lines the README's guide asks an operator to add (besides the instance's own paths). */
export const relayThroughImprint = (imprintPort: number): string[] => [
  `relayhost = [127.0.0.1]:${imprintPort}`,
  `smtp_tls_security_level = encrypt`,
  // Imprint answers only after its downstream did: give a large message time
  `smtp_data_done_timeout = 600s`
]

const masterCf = (port: number) =>
  fs
    .readFileSync("/usr/share/postfix/master.cf.dist", "utf8")
    .split("\n")
    // our smtpd on a loopback port instead of :25; every service unchrooted (the queue is private)
    .map((line) => (/^smtp\s+inet\s/.test(line) ? line.replace(/^smtp(\s+)/, `127.0.0.1:${port}$1`) : line))
    .map((line) => (/^[a-z0-9.:]+\s+(unix|unix-dgram|inet|fifo|pass)\s/.test(line) ? setChroot(line) : line))
    .join("\n")

const setChroot = (line: string) => {
  const f = line.split(/\s+/)
  if (f.length >= 8) f[4] = "n"
  return f.join("  ")
}

const postfix = (conf: string, command: string) => {
  try {
    execFileSync("postfix", ["-c", conf, command], { stdio: "pipe" })
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string }
    throw new Error(`postfix ${command} failed: ${err.stderr?.toString() || err.message}`)
  }
}

export const startPostfix = (opts: { port: number; imprintPort: number }): PostfixInstance => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-postfix-"))
  // postfix's own processes (user postfix) must reach the queue inside
  fs.chmodSync(dir, 0o755)
  const conf = path.join(dir, "etc")
  fs.mkdirSync(conf)
  const queue = path.join(dir, "queue")
  const data = path.join(dir, "data")
  const log = path.join(dir, "maillog")
  fs.mkdirSync(queue)
  fs.mkdirSync(data)
  fs.writeFileSync(
    path.join(conf, "main.cf"),
    [
      ...baseMainCf({ queue, data, hostname: "postfix.test", domain: "postfix.test" }),
      "smtputf8_enable = yes",
      `maillog_file = ${log}`,
      `maillog_file_prefixes = ${dir}`,
      "biff = no",
      ...relayThroughImprint(opts.imprintPort)
    ].join("\n") + "\n"
  )
  fs.writeFileSync(path.join(conf, "master.cf"), masterCf(opts.port))
  postfix(conf, "set-permissions")
  postfix(conf, "start")
  return {
    port: opts.port,
    dir,
    log: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : ""),
    stop: () => {
      try {
        postfix(conf, "stop")
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
