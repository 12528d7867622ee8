/**
 * A real OpenLDAP server (Debian's slapd) of our own: a temp folder with a
 * generated slapd.conf, the core/cosine/inetorgperson schemas plus a small
 * generated schema for the Active Directory attributes Imprint maps
 * (proxyAddresses, memberOf as a plain DN attribute, company, department,
 * thumbnailPhoto), an mdb database loaded with slapadd before start (fast: no
 * protocol round trips), listening on 127.0.0.1 only. Used by perf/ (100,000
 * users) and by spec/peers/ (a few thousand); spec imports it, never the
 * other way round.
 *
 * Non-paged searches are capped at NON_PAGED_LIMIT entries, as Active
 * Directory caps them at its MaxPageSize (1000): a client that forgets the
 * paged-results control gets a size-limit error instead of everything, so a
 * test of paging cannot pass by accident. The root DN is exempt from limits
 * in OpenLDAP, so readers bind as the service account below.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { freePort } from "./FreePort.js"

export const SLAPD = "/usr/sbin/slapd"
export const SLAPADD = "/usr/sbin/slapadd"
const SCHEMA_DIR = "/etc/ldap/schema"
const MODULE_DIR = "/usr/lib/ldap"

/** AD's default MaxPageSize: the most a search without paging (or one page) returns */
export const NON_PAGED_LIMIT = 1000
/** readiness: attempts × interval bounds the wait for slapd to accept connections */
const READY_ATTEMPTS = 150
const READY_INTERVAL_MS = 100
/** how long slapd gets to exit on SIGTERM before SIGKILL */
const STOP_GRACE_MS = 5_000
/** slapd's stderr kept for failure messages */
const LOG_TAIL = 16_000

/** why this machine cannot run slapd, or undefined when it can */
export const slapdUnavailable = (): string | undefined =>
  existsSync(SLAPD) && existsSync(SLAPADD) ? undefined : `${SLAPD} is not installed (Debian: apt-get install slapd ldap-utils; .ci/run does it)`

// An OID arc of our own (2.25 = UUID-derived, unique without registration)
const ARC = "2.25.177213296312137410398209478231846251209"
const DIRECTORY_STRING = "1.3.6.1.4.1.1466.115.121.1.15"
const adSchema =
  [
    `attributetype ( ${ARC}.1.1 NAME 'proxyAddresses' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX ${DIRECTORY_STRING}{1123} )`,
    // in AD memberOf is the back link of group membership; here a plain DN attribute written by the loader
    `attributetype ( ${ARC}.1.2 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )`,
    `attributetype ( ${ARC}.1.3 NAME 'company' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX ${DIRECTORY_STRING}{64} SINGLE-VALUE )`,
    `attributetype ( ${ARC}.1.4 NAME 'department' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX ${DIRECTORY_STRING}{64} SINGLE-VALUE )`,
    // binary, as in AD (a JPEG): what a mapping must not put into a text attribute
    `attributetype ( ${ARC}.1.5 NAME 'thumbnailPhoto' SYNTAX 1.3.6.1.4.1.1466.115.121.1.40{102400} SINGLE-VALUE )`,
    `attributetype ( ${ARC}.1.6 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SYNTAX ${DIRECTORY_STRING}{256} SINGLE-VALUE )`,
    `objectclass ( ${ARC}.2.1 NAME 'imprintAdUser' SUP top AUXILIARY MAY ( mail $ co $ proxyAddresses $ memberOf $ company $ department $ thumbnailPhoto $ sAMAccountName ) )`
  ].join("\n") + "\n"

/** RFC 2307 {SSHA}: what slappasswd writes, so the service account's password is not stored in clear */
export const sshaPassword = (password: string): string => {
  const salt = randomBytes(8)
  const digest = createHash("sha1").update(password).update(salt).digest()
  return `{SSHA}${Buffer.concat([digest, salt]).toString("base64")}`
}

export interface SlapdOptions {
  /** e.g. "dc=corp,dc=example"; the loader must write the suffix entry itself */
  readonly suffix: string
  /** root DN and password (exempt from limits; for writes in tests) */
  readonly rootDn: string
  readonly rootPassword: string
  /** writes the LDIF to load, in order, through `write` (called once; may write 100,000 entries) */
  readonly load: (write: (ldif: string) => void) => void
  /** PEM key and certificate: also listen on ldaps:// and offer StartTLS */
  readonly tls?: { readonly key: string; readonly cert: string }
}

export interface SlapdServer {
  /** ldap://127.0.0.1:<port> */
  readonly url: string
  /** ldaps://127.0.0.1:<port> when tls was given */
  readonly ldapsUrl: string | undefined
  readonly port: number
  readonly pid: number
  readonly log: () => string
  /** SIGTERM (then SIGKILL), and the temp folder removed */
  readonly stop: () => Promise<void>
}

const conf = (dir: string, o: SlapdOptions): string =>
  [
    ...["core", "cosine", "inetorgperson"].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
    `include ${path.join(dir, "imprint-ad.schema")}`,
    `pidfile ${path.join(dir, "slapd.pid")}`,
    `argsfile ${path.join(dir, "slapd.args")}`,
    `modulepath ${MODULE_DIR}`,
    "moduleload back_mdb",
    ...(o.tls ? [`TLSCertificateFile ${path.join(dir, "cert.pem")}`, `TLSCertificateKeyFile ${path.join(dir, "key.pem")}`] : []),
    `sizelimit size.soft=${NON_PAGED_LIMIT} size.hard=${NON_PAGED_LIMIT} size.pr=${NON_PAGED_LIMIT} size.prtotal=unlimited`,
    "loglevel none",
    "database mdb",
    `suffix "${o.suffix}"`,
    `rootdn "${o.rootDn}"`,
    `rootpw ${o.rootPassword}`,
    `directory ${path.join(dir, "db")}`,
    "maxsize 4294967296",
    "index objectClass eq",
    "index mail eq,pres",
    "index department eq",
    "access to attrs=userPassword by anonymous auth by * none",
    "access to * by users read by * none"
  ].join("\n") + "\n"

const connects = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port })
    s.once("connect", () => {
      s.destroy()
      resolve(true)
    })
    s.once("error", () => resolve(false))
  })

const live = new Set<ChildProcess>()
// a crashed run (perf or test) must not leave a server behind
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL")
})

/** Generates the config, loads the data with slapadd, starts slapd and waits (bounded) until it accepts connections. */
export const startSlapd = async (o: SlapdOptions): Promise<SlapdServer> => {
  const unavailable = slapdUnavailable()
  if (unavailable !== undefined) throw new Error(unavailable)
  const dir = mkdtempSync(path.join(os.tmpdir(), "imprint-slapd-"))
  try {
    mkdirSync(path.join(dir, "db"))
    writeFileSync(path.join(dir, "imprint-ad.schema"), adSchema)
    if (o.tls) {
      writeFileSync(path.join(dir, "cert.pem"), o.tls.cert)
      writeFileSync(path.join(dir, "key.pem"), o.tls.key, { mode: 0o600 })
    }
    const confFile = path.join(dir, "slapd.conf")
    writeFileSync(confFile, conf(dir, o))
    const ldifFile = path.join(dir, "data.ldif")
    const fd = openSync(ldifFile, "w")
    try {
      o.load((ldif) => {
        writeSync(fd, ldif)
      })
    } finally {
      closeSync(fd)
    }
    // -q: no consistency checks beyond the schema, the fast bulk path
    execFileSync(SLAPADD, ["-q", "-f", confFile, "-l", ldifFile], { stdio: "pipe" })
    rmSync(ldifFile)
    const port = await freePort()
    const tlsPort = o.tls ? await freePort() : undefined
    const urls = [`ldap://127.0.0.1:${port}/`, ...(tlsPort ? [`ldaps://127.0.0.1:${tlsPort}/`] : [])]
    // -d 0: stay in the foreground (a child we can stop), log only to stderr
    const child = spawn(SLAPD, ["-d", "0", "-f", confFile, "-h", urls.join(" ")], { stdio: ["ignore", "ignore", "pipe"] })
    live.add(child)
    let log = ""
    child.stderr!.setEncoding("utf8").on("data", (s: string) => {
      log = (log + s).slice(-LOG_TAIL)
    })
    const exited = new Promise<void>((resolve) =>
      child.once("exit", () => {
        live.delete(child)
        resolve()
      })
    )
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    }
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) {
        await stop()
        throw new Error(`slapd exited with ${child.exitCode}: ${log}`)
      }
      if ((await connects(port)) && (tlsPort === undefined || (await connects(tlsPort)))) break
      if (i >= READY_ATTEMPTS) {
        await stop()
        throw new Error(`slapd did not accept connections on ${urls.join(" ")}: ${log}`)
      }
      await new Promise((r) => setTimeout(r, READY_INTERVAL_MS))
    }
    return {
      url: `ldap://127.0.0.1:${port}`,
      ldapsUrl: tlsPort ? `ldaps://127.0.0.1:${tlsPort}` : undefined,
      port,
      pid: child.pid!,
      log: () => log,
      stop
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    const err = e as { stderr?: Buffer; message: string }
    throw new Error(`starting slapd failed: ${err.stderr?.toString() || err.message}`)
  }
}
