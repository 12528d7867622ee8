#!/usr/bin/env node
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Logger, LogLevel } from "effect"
import { batchedJsonLogger } from "./LogOutput.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { type ImprintConfig, loadConfig } from "./config.js"
import { ADMIN_USAGE, adminCommand } from "./admin/TokenCli.js"
import { IMAGE_USAGE, imageCommand } from "./admin/ImageCli.js"
import { ImageRepo } from "./store/ImageRepo.js"
import { startCaptureServer } from "./demo/CaptureServer.js"
import { DEMO_SENDER, DEMO_TENANT_ID, demoTenantFile } from "./demo/DemoTenant.js"
import { provisionDemoImages } from "./demo/DemoImages.js"
import { sendSample } from "./demo/SampleSender.js"
import { Downstream, TenantId } from "./domain/Tenant.js"
import { liveLayer, startServer } from "./Server.js"
import { TenantRepo } from "./store/TenantRepo.js"
import { DIRECTORY_USAGE, directoryCommand } from "./sync/SyncCli.js"

/**
 * The command line, and the only place layers are launched.
 *   imprint serve [--config FILE]          run the relay
 *   imprint demo                           run it on embedded defaults with a demo tenant (npm start)
 *   imprint tenant import FILE | export ID | list   [--config FILE]
 *   imprint admin token create --name NAME | list | revoke ID   [--config FILE]
 *   imprint directory sync TENANT [--config FILE]  one directory sync pass now
 *   imprint send-sample [--port 2525] [--to ADDRESS]
 */

const USAGE = `usage:
  imprint serve [--config FILE]
  imprint demo [--config FILE]
  imprint tenant import FILE [--config FILE]
  imprint tenant export ID [--config FILE]
  imprint tenant list [--config FILE]
${ADMIN_USAGE}
${DIRECTORY_USAGE}
${IMAGE_USAGE}
  imprint send-sample [--host 127.0.0.1] [--port 2525] [--from ${DEMO_SENDER}] [--to someone@example.org]`

const parseArgs = (argv: ReadonlyArray<string>) => {
  const positional: string[] = []
  const flags: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith("--")) {
      const [k, v] = a.includes("=") ? a.slice(2).split("=", 2) : [a.slice(2), argv[++i]]
      if (v === undefined) throw new Error(`--${k} needs a value\n${USAGE}`)
      flags[k] = v
    } else positional.push(a)
  }
  return { positional, flags }
}

const serve = (config: ImprintConfig, banner?: (port: number, adminPort: number | undefined) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const { port, adminPort } = yield* startServer(config, { admin: true })
    if (banner) yield* banner(port, adminPort)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(liveLayer(config)))

const demo = (config: ImprintConfig) =>
  Effect.gen(function* () {
    const outbox = config.captureDir ?? path.resolve("var/outbox")
    const capture = yield* startCaptureServer(outbox)
    const withCapture: ImprintConfig = {
      ...config,
      downstream: Downstream.make({ host: "127.0.0.1", port: capture.port, tls: "none" })
    } as ImprintConfig
    yield* Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* repo.importTenant(demoTenantFile())
      yield* provisionDemoImages(yield* ImageRepo, TenantId.make(DEMO_TENANT_ID))
    }).pipe(Effect.provide(ImageRepo.DefaultWithoutDependencies), Effect.provide(liveLayer(config)), Effect.scoped)
    yield* serve(withCapture, (port, adminPort) =>
      Console.log(
        [
          ``,
          `Imprint demo: relaying for tenant "demo" (domain demo.example) on ${config.smtp.host}:${port}`,
          `Relayed messages are written to ${outbox}/ as .eml files.`,
          `Send a test message:`,
          `  node dist/src/main.js send-sample --port ${port}`,
          `  swaks --server ${config.smtp.host}:${port} --from ${DEMO_SENDER} --to someone@example.org`,
          ...(adminPort === undefined
            ? []
            : [
                `Admin API: https://${config.admin.host}:${adminPort}/openapi.json (self-signed certificate in ${config.dataDir}/tls);`,
                `  a token for it: node dist/src/main.js admin token create --name me`
              ]),
          `Stop with Ctrl-C.`,
          ``
        ].join("\n")
      )
    )
  }).pipe(Effect.scoped)

const tenantCommand = (config: ImprintConfig, args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    const [sub, arg] = args
    switch (sub) {
      case "import": {
        if (!arg) return yield* Effect.fail(new Error(USAGE))
        const input: unknown = JSON.parse(fs.readFileSync(arg, "utf8"))
        const summary = yield* repo.importTenant(input)
        return yield* Console.log(JSON.stringify(summary))
      }
      case "export": {
        if (!arg) return yield* Effect.fail(new Error(USAGE))
        const file = yield* repo.exportTenant(TenantId.make(arg))
        return yield* Console.log(JSON.stringify(file, null, 2))
      }
      case "list": {
        const tenants = yield* repo.listTenants()
        for (const t of tenants) yield* Console.log(`${t.id}\t${t.name}\t${t.domains.join(",")}${t.suspended ? "\tsuspended" : ""}`)
        return
      }
      default:
        return yield* Effect.fail(new Error(USAGE))
    }
  }).pipe(Effect.provide(liveLayer(config)), Effect.scoped)

const program = Effect.gen(function* () {
  const { positional, flags } = parseArgs(process.argv.slice(2))
  const [command, ...rest] = positional
  if (command === "send-sample") {
    const replies = yield* Effect.promise(() =>
      sendSample({
        host: flags.host ?? "127.0.0.1",
        port: Number(flags.port ?? 2525),
        from: flags.from ?? DEMO_SENDER,
        to: flags.to ?? "someone@example.org"
      })
    )
    for (const r of replies) yield* Console.log(r)
    return
  }
  const isDemo = command === "demo"
  const config = yield* loadConfig(flags.config ?? process.env.IMPRINT_CONFIG, process.env)
  switch (command) {
    case "serve":
      return yield* serve(config)
    case "demo":
      return yield* demo(isDemo && flags.config === undefined ? { ...config, dataDir: path.resolve("var/data") } as ImprintConfig : config)
    case "tenant":
      return yield* tenantCommand(config, rest)
    case "admin":
      return yield* adminCommand(rest, flags).pipe(Effect.provide(liveLayer(config)), Effect.scoped)
    case "image":
      return yield* imageCommand(rest).pipe(Effect.provide(ImageRepo.DefaultWithoutDependencies), Effect.provide(liveLayer(config)), Effect.scoped)
    case "directory":
      return yield* directoryCommand(rest, USAGE).pipe(Effect.provide(liveLayer(config)), Effect.scoped)
    default:
      return yield* Effect.fail(new Error(USAGE))
  }
})

program.pipe(
  Effect.catchAll((e) => Console.error(String((e as { message?: string }).message ?? e)).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))),
  Effect.provide(batchedJsonLogger),
  Logger.withMinimumLogLevel(LogLevel.Info),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
