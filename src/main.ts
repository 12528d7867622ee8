#!/usr/bin/env node
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Either, Logger, LogLevel, type MetricPair, Queue, Schema } from "effect"
import { batchedJsonLogger, logToStandardError } from "./LogOutput.js"
import cluster from "node:cluster"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AdminListen, ImprintConfig, loadConfig, workerCount } from "./config.js"
import { MailSettings } from "./domain/AccountSettings.js"
import { helpText, type Invocation, parseCommandLine } from "./Cli.js"
import { ImageRepo } from "./store/ImageRepo.js"
import { Downstream, TenantId } from "./domain/Tenant.js"
import { liveLayer, primaryLayer, RunningServer, serverLayer, traceSearchLayer } from "./Server.js"
import { superviseWorkers } from "./workers/Supervisor.js"
import { answerMetricRequests, followStoreChanges, workerAdmissionPeers, workerAuthPeers, workerSlot } from "./workers/WorkerChannel.js"
import { Store } from "./store/Store.js"
import { initFolder } from "./StarterFiles.js"
import { TenantRepo } from "./store/TenantRepo.js"

/**
 * The command line (grammar and help texts in Cli.ts), and the only place layers are launched.
 * Exit codes: 0 done (and help), 1 the command failed, 2 a usage error.
 */

const EXIT_FAILED = 1
const EXIT_USAGE = 2

/**
 * A module only some commands use (the admin API's CLIs, demo mode, the directory and trace
 * CLIs), loaded when one of them runs: `serve`, and each worker of `workers: N` with it, does not
 * load them (the admin API's modules are loaded by Server.ts where it starts the admin API).
 */
const load = <A>(module: () => Promise<A>): Effect.Effect<A> => Effect.promise(module)

const serve = (config: ImprintConfig, banner?: (port: number, adminPort: number | undefined) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const { port, adminPort } = yield* RunningServer
    if (banner) yield* banner(port, adminPort)
    return yield* Effect.never
  }).pipe(Effect.provide(serverLayer(config, { admin: true })), Effect.provide(liveLayer(config)))

/**
 * `imprint serve` with `workers` above 1: this process is either the primary
 * (admin API, syncs, cluster applier, supervision; no SMTP) or one of its
 * workers (SMTP only), which node:cluster starts with the same command line.
 */
const serveCommand = (config: ImprintConfig) => {
  const count = workerCount(config.workers, os.availableParallelism())
  if (count <= 1) return serve(config)
  return cluster.isPrimary ? servePrimary(config, count) : serveWorker(config, count)
}

const servePrimary = (config: ImprintConfig, count: number) => {
  // the admin API starts first (primaryLayer: it generates the secrets the workers read); its /metrics asks the workers once they run
  let workerMetrics: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>> = Effect.succeed([])
  return Effect.gen(function* () {
    const supervisor = yield* superviseWorkers(config, count)
    workerMetrics = supervisor.workerMetrics
    // each batch of the primary's commits (admin API, syncs, the cluster applier): the workers look at once
    const changes = yield* (yield* Store).subscribe
    yield* Queue.take(changes).pipe(Effect.zipRight(Queue.takeAll(changes)), Effect.zipRight(supervisor.storeChanged), Effect.forever, Effect.forkScoped)
    return yield* supervisor.startFailure
  }).pipe(
    Effect.scoped,
    Effect.provide(
      primaryLayer(
        config,
        Effect.suspend(() => workerMetrics)
      )
    ),
    Effect.provide(liveLayer(config, { node: { slot: 0, workers: count } }))
  )
}

const ignoreSignal = () => undefined

/**
 * Perf only, not a configuration key (perf/WorkersBench.ts `--compare admission`):
 * set to 1, workers skip the node's admission round trip and count their
 * connection limits alone, so the bench can measure what the round trip costs.
 */
const PERF_SKIP_NODE_ADMISSION = "PERF_WORKERS_SKIP_NODE_ADMISSION"

const serveWorker = (config: ImprintConfig, count: number) => {
  const slot = workerSlot() ?? 1
  return Effect.gen(function* () {
    // The first SIGTERM/SIGINT starts the graceful stop; a second one (Ctrl-C reaches the whole
    // process group, and the primary passes SIGTERM on) must not kill the worker mid-transaction.
    process.on("SIGTERM", ignoreSignal)
    process.on("SIGINT", ignoreSignal)
    yield* answerMetricRequests
    yield* followStoreChanges((yield* Store).pollExternalChanges)
    const admissionPeers = process.env[PERF_SKIP_NODE_ADMISSION] === "1" ? undefined : workerAdmissionPeers()
    // the SMTP listener (serverLayer's worker form) starts after the channel to the primary answers
    return yield* Effect.gen(function* () {
      const { port } = yield* RunningServer
      yield* Effect.logInfo(`worker ${slot} ready on ${config.smtp.host}:${port}`).pipe(Effect.annotateLogs({ pid: process.pid }))
      return yield* Effect.never
    }).pipe(Effect.provide(serverLayer(config, { worker: { authPeers: workerAuthPeers(), admissionPeers } })))
  }).pipe(Effect.scoped, Effect.provide(liveLayer(config, { node: { slot, workers: count } })), Effect.annotateLogs({ worker: slot }))
}

/**
 * Demo mode: the capture server is the downstream and, unless admin.mail is configured,
 * the mail server for sign-in codes too; the demo tenant is imported when absent (or --reset).
 */
const demo = (config: ImprintConfig, reset: boolean) =>
  Effect.gen(function* () {
    const { startCaptureServer } = yield* load(() => import("./demo/CaptureServer.js"))
    const { DEMO_LOGIN_FROM, demoBanner, ensureDemoTenant } = yield* load(() => import("./demo/DemoMode.js"))
    const { DEMO_TENANT_ID } = yield* load(() => import("./demo/DemoTenant.js"))
    const { provisionDemoImages } = yield* load(() => import("./demo/DemoImages.js"))
    const outbox = config.captureDir ?? path.resolve("var/outbox")
    const capture = yield* startCaptureServer(outbox)
    const withCapture = ImprintConfig.make({
      ...config,
      downstream: Downstream.make({ host: "127.0.0.1", port: capture.port, tls: "none" }),
      admin: AdminListen.make({
        ...config.admin,
        mail: config.admin.mail ?? MailSettings.make({ host: "127.0.0.1", port: capture.port, requireTLS: false, from: DEMO_LOGIN_FROM })
      })
    })
    // the demo's pictures come with its tenant: imported with it, restored with --reset, left as the user made them otherwise
    const tenant = yield* Effect.gen(function* () {
      const state = yield* ensureDemoTenant(reset)
      if (state !== "kept") yield* provisionDemoImages(yield* ImageRepo, TenantId.make(DEMO_TENANT_ID))
      return state
    }).pipe(Effect.provide(ImageRepo.DefaultWithoutDependencies), Effect.provide(liveLayer(config)), Effect.scoped)
    const certFile = config.admin.tlsCertFile ?? config.smtp.tlsCertFile ?? path.join(config.dataDir, "tls", "self-signed.cert.pem")
    yield* serve(withCapture, (port, adminPort) =>
      Console.log(
        demoBanner({
          host: config.smtp.host,
          port,
          outbox,
          certFile,
          tenant,
          admin: adminPort === undefined ? undefined : { host: config.admin.host, port: adminPort }
        })
      )
    )
  }).pipe(Effect.scoped)

const tenantCommand = (config: ImprintConfig, args: ReadonlyArray<string>, flags: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    const [sub, arg] = args
    switch (sub) {
      case "import":
        return yield* (yield* load(() => import("./admin/tenants/ImportCli.js"))).tenantImport(arg, flags.mode)
      case "export": {
        const id = yield* Schema.decodeUnknown(TenantId)(arg).pipe(Effect.mapError(() => new Error(`"${arg}" is not a tenant id (a-z, 0-9, -)`)))
        const file = yield* repo.exportTenant(id)
        return yield* Console.log(JSON.stringify(file, null, 2))
      }
      case "list": {
        const tenants = yield* repo.listTenants()
        for (const t of tenants) yield* Console.log(`${t.id}\t${t.name}\t${t.domains.join(",")}${t.suspended ? "\tsuspended" : ""}`)
        return
      }
    }
  }).pipe(Effect.provide(liveLayer(config)), Effect.scoped)

const run = (invocation: Extract<Invocation, { _tag: "Run" }>) =>
  Effect.gen(function* () {
    const { command, positional, flags } = invocation
    if (command === "send-sample") {
      const { sampleAccepted, sendSample } = yield* load(() => import("./demo/SampleSender.js"))
      const { DEMO_SENDER } = yield* load(() => import("./demo/DemoTenant.js"))
      const port = Number(flags.port ?? 2525)
      if (!Number.isInteger(port) || port < 1 || port > 65535) return yield* Effect.fail(new Error(`--port ${flags.port}: expected a port number`))
      const host = flags.host ?? "127.0.0.1"
      const replies = yield* Effect.tryPromise({
        try: () => sendSample({ host, port, from: flags.from ?? DEMO_SENDER, to: flags.to ?? "someone@example.org" }),
        catch: (e) => new Error(`cannot send to ${host}:${port}: ${(e as Error).message}`)
      })
      for (const r of replies) yield* Console.log(r)
      if (!sampleAccepted(replies)) return yield* Effect.fail(new Error("the message was not accepted"))
      return
    }
    if (command === "init") {
      for (const line of yield* initFolder(positional[0] ?? ".")) yield* Console.log(line)
      return
    }
    // serve and demo log on standard output; every other command's output is its result (LogOutput)
    if (command !== "serve" && command !== "demo") logToStandardError()
    const config = yield* loadConfig(flags.config ?? process.env.IMPRINT_CONFIG, process.env)
    switch (command) {
      case "serve":
        return yield* serveCommand(config)
      case "demo":
        return yield* demo(config, invocation.switches.has("reset"))
      case "tenant":
        return yield* tenantCommand(config, positional, flags)
      case "admin": {
        const { adminCommand } = yield* load(() => import("./admin/auth/TokenCli.js"))
        return yield* adminCommand(positional, flags).pipe(Effect.provide(liveLayer(config)), Effect.scoped)
      }
      case "directory": {
        const { directoryCommand } = yield* load(() => import("./sync/SyncCli.js"))
        return yield* directoryCommand(positional, helpText("directory")).pipe(Effect.provide(liveLayer(config)), Effect.scoped)
      }
      case "image": {
        const { imageCommand } = yield* load(() => import("./admin/images/Cli.js"))
        return yield* imageCommand(positional).pipe(Effect.provide(ImageRepo.DefaultWithoutDependencies), Effect.provide(liveLayer(config)), Effect.scoped)
      }
      case "trace": {
        const { traceCommand } = yield* load(() => import("./trace/TraceCli.js"))
        return yield* traceCommand(positional, flags, helpText("trace")).pipe(Effect.provide(traceSearchLayer(config)), Effect.scoped)
      }
    }
  })

const report = (code: number, ...lines: ReadonlyArray<string>) =>
  Console.error(lines.join("\n")).pipe(Effect.zipRight(Effect.sync(() => void (process.exitCode = code))))

const program: Effect.Effect<void> = Either.match(parseCommandLine(process.argv.slice(2)), {
  onLeft: (e) => report(EXIT_USAGE, `imprint: ${e.message}`, helpText(e.command)),
  onRight: (invocation) =>
    invocation._tag === "Help"
      ? Console.log(helpText(invocation.command))
      : run(invocation).pipe(Effect.catchAll((e) => report(EXIT_FAILED, `imprint ${invocation.command}: ${String((e as { message?: string }).message ?? e)}`)))
})

program.pipe(Effect.provide(batchedJsonLogger), Logger.withMinimumLogLevel(LogLevel.Info), NodeRuntime.runMain({ disablePrettyLogger: true }))
