#!/usr/bin/env node
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Either, Logger, LogLevel, Schema } from "effect"
import { batchedJsonLogger } from "./LogOutput.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { type ImprintConfig, loadConfig } from "./config.js"
import { adminCommand } from "./admin/TokenCli.js"
import { helpText, type Invocation, parseCommandLine } from "./Cli.js"
import { startCaptureServer } from "./demo/CaptureServer.js"
import { DEMO_SENDER, demoTenantFile } from "./demo/DemoTenant.js"
import { sampleAccepted, sendSample } from "./demo/SampleSender.js"
import { Downstream, TenantId } from "./domain/Tenant.js"
import { liveLayer, startServer } from "./Server.js"
import { initFolder } from "./StarterFiles.js"
import { TenantRepo } from "./store/TenantRepo.js"
import { directoryCommand } from "./sync/SyncCli.js"

/**
 * The command line (grammar and help texts in Cli.ts), and the only place layers are launched.
 * Exit codes: 0 done (and help), 1 the command failed, 2 a usage error.
 */

const EXIT_FAILED = 1
const EXIT_USAGE = 2

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
    }).pipe(Effect.provide(liveLayer(config)), Effect.scoped)
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
        const input = yield* Effect.try({
          try: (): unknown => JSON.parse(fs.readFileSync(arg, "utf8")),
          catch: (e) => new Error(`cannot read tenant file ${arg}: ${(e as Error).message}`)
        })
        const summary = yield* repo.importTenant(input)
        return yield* Console.log(JSON.stringify(summary))
      }
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
    const config = yield* loadConfig(flags.config ?? process.env.IMPRINT_CONFIG, process.env)
    switch (command) {
      case "serve":
        return yield* serve(config)
      case "demo":
        return yield* demo(config)
      case "tenant":
        return yield* tenantCommand(config, positional)
      case "admin":
        return yield* adminCommand(positional, flags).pipe(Effect.provide(liveLayer(config)), Effect.scoped)
      case "directory":
        return yield* directoryCommand(positional, helpText("directory")).pipe(Effect.provide(liveLayer(config)), Effect.scoped)
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

program.pipe(
  Effect.provide(batchedJsonLogger),
  Logger.withMinimumLogLevel(LogLevel.Info),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
