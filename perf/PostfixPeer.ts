/**
 * Postfix as a peer to compare with: an instance of its own (config, queue and
 * data in a temp dir, smtpd on a loopback port) relaying everything to the
 * sink, the way operators run it today. Two variants:
 *   plain      — smtpd → queue on disk → smtp → sink
 *   altermime  — the classic disclaimer filter: content_filter pipes each
 *                message through altermime and re-injects it over SMTP (Postfix's
 *                own smtp-source) into a second smtpd without the filter. The
 *                HOWTOs re-inject with sendmail, but an unprivileged filter's
 *                `sendmail -C <our config>` needs /etc/postfix/main.cf to list it in
 *                alternate_config_directories, and a benchmark must not edit /etc.
 * Postfix answers 250 once the message is queued, not delivered, so the peers
 * run waits for the sink to receive everything before it checks "arrived once".
 * Needs Debian's postfix (and altermime) packages and root; modelled on
 * spec/peers/PostfixPeer.ts. No host name is resolved: IP literals only.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { readProc } from "./Child.js"

export type PostfixVariant = "plain" | "altermime"

export const ALTERMIME = "/usr/bin/altermime"
const DISCLAIMER_TEXT = "This message was relayed through the perf disclaimer filter. PERFSIG7Q"
const DISCLAIMER_HTML = '<p style="color:#888">This message was relayed through the perf disclaimer filter. PERFSIG7Q</p>'

/** why Postfix cannot run here, or undefined */
export const postfixUnavailable = (variant: PostfixVariant): string | undefined => {
  if (!fs.existsSync("/usr/sbin/postfix")) return "Debian package postfix is not installed (perf/install-peers.sh installs it)"
  if (variant === "altermime" && !fs.existsSync(ALTERMIME)) return "Debian package altermime is not installed (perf/install-peers.sh installs it)"
  if (process.getuid?.() !== 0) return "Postfix's master needs root"
  return undefined
}

export interface PostfixInstance {
  readonly port: number
  /** peak summed RSS (kB) of master and its children, and CPU seconds, since the call */
  readonly measure: () => () => { readonly peakRssKb: number; readonly cpuS: number; readonly processes: number }
  readonly stop: () => void
}

const postfix = (conf: string, command: string): void => {
  try {
    execFileSync("/usr/sbin/postfix", ["-c", conf, command], { stdio: "pipe" })
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string }
    throw new Error(`postfix ${command} failed: ${err.stderr?.toString() || err.message}`)
  }
}

const unchroot = (line: string): string => {
  const f = line.split(/\s+/)
  if (f.length >= 8) f[4] = "n"
  return f.join("  ")
}

const masterCf = (port: number, filter: string | undefined, reinjectPort: number): string => {
  const lines = fs
    .readFileSync("/usr/share/postfix/master.cf.dist", "utf8")
    .split("\n")
    .map((l) => (/^smtp\s+inet\s/.test(l) ? l.replace(/^smtp(\s+)/, `127.0.0.1:${port}$1`) : l))
    .map((l) => (/^[a-z0-9.:]+\s+(unix|unix-dgram|inet|fifo|pass)\s/.test(l) ? unchroot(l) : l))
  if (filter !== undefined) {
    // the filter applies to mail from the network, not to what it re-injects with sendmail
    const i = lines.findIndex((l) => l.startsWith(`127.0.0.1:${port}`))
    lines.splice(i + 1, 0, "  -o content_filter=dfilt:")
    lines.push(`dfilt unix - n n - 20 pipe flags=Rq user=nobody argv=${filter} -f \${sender} -- \${recipient}`)
    lines.push(`127.0.0.1:${reinjectPort} inet n - n - - smtpd`, "  -o content_filter=", "  -o receive_override_options=no_header_body_checks")
  }
  return lines.join("\n") + "\n"
}

/** the classic disclaimer script (as in many HOWTOs): altermime in place, then re-inject; argv: -f sender -- recipient */
const filterScript = (spool: string, reinjectPort: number): string => `#!/bin/sh
INSPECT_DIR=${spool}
EX_TEMPFAIL=75
EX_UNAVAILABLE=69
trap "rm -f in.$$" 0 1 2 3 15
cd $INSPECT_DIR || { echo $INSPECT_DIR does not exist; exit $EX_TEMPFAIL; }
cat >in.$$ || { echo Cannot save mail to file; exit $EX_TEMPFAIL; }
${ALTERMIME} --input=in.$$ --disclaimer=${spool}/disclaimer.txt --disclaimer-html=${spool}/disclaimer.html --xheader="X-Disclaimer: perf" || { echo Message content rejected; exit $EX_UNAVAILABLE; }
/usr/sbin/smtp-source -F in.$$ -f "$2" -t "$4" -m 1 -M filter.perf.example 127.0.0.1:${reinjectPort} || exit $EX_TEMPFAIL
exit 0
`

/**
 * The main.cf lines every private Postfix instance here starts from (perf's peers
 * and spec/peers): its own queue and data folders, loopback only, no local
 * delivery, no DNS. Callers add their relay and limits.
 */
export const baseMainCf = (o: { readonly queue: string; readonly data: string; readonly hostname: string; readonly domain: string }): Array<string> => [
  "compatibility_level = 3.6",
  `queue_directory = ${o.queue}`,
  `data_directory = ${o.data}`,
  "mail_owner = postfix",
  "setgid_group = postdrop",
  `myhostname = ${o.hostname}`,
  `mydomain = ${o.domain}`,
  "myorigin = $myhostname",
  "mydestination =",
  "local_recipient_maps =",
  "alias_maps =",
  "alias_database =",
  "inet_interfaces = 127.0.0.1",
  "inet_protocols = ipv4",
  "mynetworks = 127.0.0.0/8",
  "smtp_dns_support_level = disabled",
  "smtp_host_lookup = native"
]

export const startPostfix = (o: {
  readonly port: number
  readonly reinjectPort: number
  readonly sinkPort: number
  readonly variant: PostfixVariant
}): PostfixInstance => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imprint-perf-postfix-${o.variant}-`))
  fs.chmodSync(dir, 0o755) // postfix's own processes (user postfix) must reach the queue inside
  const conf = path.join(dir, "etc")
  const queue = path.join(dir, "queue")
  const data = path.join(dir, "data")
  for (const d of [conf, queue, data]) fs.mkdirSync(d)
  let filter: string | undefined
  if (o.variant === "altermime") {
    const spool = path.join(dir, "filter")
    fs.mkdirSync(spool)
    fs.chmodSync(spool, 0o1777)
    fs.writeFileSync(path.join(spool, "disclaimer.txt"), DISCLAIMER_TEXT + "\n")
    fs.writeFileSync(path.join(spool, "disclaimer.html"), DISCLAIMER_HTML + "\n")
    filter = path.join(dir, "disclaimer.sh")
    fs.writeFileSync(filter, filterScript(spool, o.reinjectPort), { mode: 0o755 })
  }
  fs.writeFileSync(
    path.join(conf, "main.cf"),
    [
      ...baseMainCf({ queue, data, hostname: "postfix.perf.example", domain: "perf.example" }),
      `relayhost = [127.0.0.1]:${o.sinkPort}`,
      "smtp_tls_security_level = none",
      "smtpd_client_connection_count_limit = 0",
      "smtpd_client_message_rate_limit = 0",
      "default_process_limit = 200",
      "message_size_limit = 0",
      `maillog_file = ${path.join(dir, "maillog")}`,
      `maillog_file_prefixes = ${dir}`,
      "biff = no"
    ].join("\n") + "\n"
  )
  fs.writeFileSync(path.join(conf, "master.cf"), masterCf(o.port, filter, o.reinjectPort))
  postfix(conf, "set-permissions")
  postfix(conf, "start")
  const pidFile = path.join(queue, "pid", "master.pid")
  const masterPid = Number(fs.readFileSync(pidFile, "utf8").trim())

  /** master and its live children (smtpd, cleanup, qmgr, smtp, pipe, …) */
  const tree = (): Array<number> => {
    const pids = [masterPid]
    for (const e of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue
      try {
        const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8")
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
        if (ppid === masterPid) pids.push(Number(e))
      } catch {
        /* gone */
      }
    }
    return pids
  }
  /** CPU of the tree: live processes plus the children master has reaped (cutime/cstime) */
  const cpu = (): number => {
    let s = 0
    for (const p of tree()) s += readProc(p)?.cpuS ?? 0
    try {
      const stat = fs.readFileSync(`/proc/${masterPid}/stat`, "utf8")
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      s += (Number(f[13]) + Number(f[14])) / 100 // cutime, cstime (fields 16, 17)
    } catch {
      /* gone */
    }
    return s
  }
  return {
    port: o.port,
    measure: () => {
      const cpu0 = cpu()
      let peak = 0
      let processes = 0
      const sample = () => {
        const ps = tree()
        const rss = ps.reduce((n, p) => n + (readProc(p)?.rssKb ?? 0), 0)
        if (rss > peak) {
          peak = rss
          processes = ps.length
        }
      }
      sample()
      const timer = setInterval(sample, 50)
      return () => {
        clearInterval(timer)
        sample()
        return { peakRssKb: peak, cpuS: cpu() - cpu0, processes }
      }
    },
    stop: () => {
      try {
        postfix(conf, "stop")
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
