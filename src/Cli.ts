import { Data, Either } from "effect"
import { MAX_TRACE_PAGE } from "./domain/Paging.js"

/**
 * The command line's grammar. Each command's usage lines are its specification:
 * the parser reads them (literal words, ARGUMENTS, [OPTIONAL], `--flag VALUE`,
 * `[--flag VALUE]`, `[--switch]`), so what `--help` prints is what is accepted.
 */

export interface Command {
  readonly name: string
  /** one line for the overview */
  readonly summary: string
  /** the forms, without the leading `imprint <name>` */
  readonly forms: ReadonlyArray<string>
  /** printed under the forms by `imprint <name> --help` */
  readonly details: ReadonlyArray<string>
}

const CONFIG = "Options: --config FILE (or IMPRINT_CONFIG) names the configuration file; IMPRINT_* variables override it."

export const COMMANDS: ReadonlyArray<Command> = [
  {
    name: "serve",
    summary: "run the relay and its admin API",
    forms: ["[--config FILE]"],
    details: ["Runs until SIGTERM or SIGINT, then finishes the transactions in flight.", CONFIG]
  },
  {
    name: "demo",
    summary: "run the relay on embedded defaults with a demo tenant and a capture server (npm start)",
    forms: ["[--reset] [--config FILE]"],
    details: [
      "Data in var/data/, relayed mail and sign-in codes in var/outbox/ (IMPRINT_DATA_DIR, IMPRINT_CAPTURE_DIR move them).",
      "The demo tenant is imported when absent; changes made through the admin API are kept across restarts.",
      "--reset imports the demo tenant again, replacing its templates, rules and directory."
    ]
  },
  {
    name: "init",
    summary: "write a starter imprint.json and tenant file acme.json into a folder",
    forms: ["[FOLDER]"],
    details: ["FOLDER defaults to the current folder. Existing files are never overwritten."]
  },
  {
    name: "tenant",
    summary: "import, export or list tenants",
    forms: ["import PATH [--mode MODE] [--config FILE]", "export ID [--config FILE]", "list [--config FILE]"],
    details: [
      "import reads a tenant file (README: The tenant file), a folder of them (*.json) or a JSON-lines file (*.jsonl, one tenant per line).",
      "A folder or .jsonl is one batch: --mode all-or-nothing (default) writes every tenant or none, --mode per-tenant writes the valid ones;",
      "either way each tenant gets a report line (status, tenant, source, problem). export prints one tenant, list prints id, name and domains.",
      CONFIG
    ]
  },
  {
    name: "admin",
    summary: "operator tokens for the admin API",
    forms: ["token create --name NAME [--config FILE]", "token list [--config FILE]", "token revoke ID [--config FILE]"],
    details: ["create prints the token on standard output, once; only its SHA-256 is stored.", CONFIG]
  },
  {
    name: "image",
    summary: "a tenant's signature images (PNG, JPEG, GIF)",
    forms: [
      "upload TENANT ID FILE [--config FILE]",
      "replace TENANT ID FILE [--config FILE]",
      "list TENANT [--config FILE]",
      "delete TENANT ID [--config FILE]"
    ],
    details: [
      'Templates show an image as <img src="image:ID">. The type is read from the bytes (SVG refused); at most 1 MB per image and 50 MB per tenant.',
      "delete refuses an image a template still shows.",
      CONFIG
    ]
  },
  {
    name: "directory",
    summary: "run one directory sync pass now",
    forms: ["sync TENANT [--config FILE]"],
    details: [CONFIG]
  },
  {
    name: "trace",
    summary: "search or export the message trace",
    forms: [
      "search [--tenant ID] [--sender ADDRESS] [--recipient ADDRESS] [--message-id ID] [--from TIME] [--to TIME] [--outcome OUTCOME] [--decision DECISION] [--reason REASON] [--rule RULE] [--limit N] [--cursor C] [--format FORMAT] [--config FILE]",
      "export [--tenant ID] [--sender ADDRESS] [--recipient ADDRESS] [--message-id ID] [--from TIME] [--to TIME] [--outcome OUTCOME] [--decision DECISION] [--reason REASON] [--rule RULE] [--format FORMAT] [--config FILE]"
    ],
    details: [
      "Reads the data folder's trace store (also while the server runs): this node's records only; in a cluster the admin API searches every node. TIME: ISO 8601 or epoch milliseconds.",
      "OUTCOME: relayed, deferred or rejected. DECISION: stamped, unstamped or none. FORMAT: table (search), csv (export) or json.",
      `search prints a page, newest first (--limit 1-${MAX_TRACE_PAGE}); the next page's --cursor goes to standard error. export prints every match (at most 50,000).`,
      CONFIG
    ]
  },
  {
    name: "send-sample",
    summary: "send a sample reply (HTML and text) to a running relay",
    forms: ["[--host 127.0.0.1] [--port 2525] [--from alice@demo.example] [--to someone@example.org]"],
    details: ["Speaks plain SMTP and prints every reply; exits 1 unless the message was accepted."]
  },
  {
    name: "help",
    summary: "this overview, or one command's usage",
    forms: ["[COMMAND]"],
    details: []
  }
]

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string; readonly command: string | undefined }> {}

export type Invocation =
  | { readonly _tag: "Help"; readonly command: string | undefined }
  | {
      readonly _tag: "Run"
      readonly command: string
      readonly positional: ReadonlyArray<string>
      readonly flags: Readonly<Record<string, string>>
      readonly switches: ReadonlySet<string>
    }

interface Form {
  readonly words: ReadonlyArray<string>
  readonly args: ReadonlyArray<{ readonly name: string; readonly optional: boolean }>
  readonly flags: ReadonlyMap<string, { readonly required: boolean; readonly value: boolean }>
}

const parseForm = (form: string): Form => {
  const words: string[] = []
  const args: Array<{ name: string; optional: boolean }> = []
  const flags = new Map<string, { required: boolean; value: boolean }>()
  for (const token of form.match(/\[[^\]]+\]|--\S+ [A-Z]+\b|\S+/g) ?? []) {
    const optional = token.startsWith("[")
    const [head, value] = token.replace(/^\[|\]$/g, "").split(" ")
    if (head.startsWith("--")) flags.set(head.slice(2), { required: !optional, value: value !== undefined })
    else if (/^[A-Z]+$/.test(head)) args.push({ name: head, optional })
    else words.push(head)
  }
  return { words, args, flags }
}

const find = (name: string | undefined) => COMMANDS.find((c) => c.name === name)

/** The overview (`imprint help`) or one command's usage (`imprint <command> --help`). */
export const helpText = (name?: string): string => {
  const command = find(name)
  if (command === undefined) {
    const width = Math.max(...COMMANDS.map((c) => c.name.length))
    return [
      "usage: imprint <command> [arguments]",
      "",
      ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
      "",
      "imprint <command> --help shows a command's arguments."
    ].join("\n")
  }
  return [
    "usage:",
    ...command.forms.map((f) => `  imprint ${command.name} ${f}`.trimEnd()),
    ...(command.details.length > 0 ? ["", ...command.details] : [])
  ].join("\n")
}

const usageError = (command: string | undefined, message: string) => Either.left(new UsageError({ message, command }))

/** Reads argv (without node and the script). Help wins over everything else on the line. */
export const parseCommandLine = (argv: ReadonlyArray<string>): Either.Either<Invocation, UsageError> => {
  const [name, ...rest] = argv
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest.find((a) => !a.startsWith("-")) : undefined
    if (topic !== undefined && find(topic) === undefined) return usageError(undefined, `unknown command "${topic}"`)
    return Either.right({ _tag: "Help", command: topic })
  }
  const command = find(name)
  if (command === undefined) return usageError(undefined, `unknown command "${name}"`)
  if (rest.includes("--help") || rest.includes("-h")) return Either.right({ _tag: "Help", command: name })
  const forms = command.forms.map(parseForm)
  const known = new Map(forms.flatMap((f) => [...f.flags]))
  const positional: string[] = []
  const flags: Record<string, string> = {}
  const switches = new Set<string>()
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]
    if (!a.startsWith("--")) {
      positional.push(a)
      continue
    }
    const eq = a.indexOf("=")
    const key = eq === -1 ? a.slice(2) : a.slice(2, eq)
    const spec = known.get(key)
    if (spec === undefined) return usageError(name, `unknown option --${key}`)
    if (!spec.value) {
      if (eq !== -1) return usageError(name, `--${key} takes no value`)
      switches.add(key)
      continue
    }
    const value = eq === -1 ? rest[++i] : a.slice(eq + 1)
    if (value === undefined || (eq === -1 && value.startsWith("--"))) return usageError(name, `--${key} needs a value`)
    flags[key] = value
  }
  const form = forms.find((f) => f.words.every((w, i) => positional[i] === w))
  if (form === undefined) {
    const given = positional.slice(0, forms[0].words.length).join(" ")
    return usageError(name, given === "" ? "a subcommand is missing" : `unknown subcommand "${given}"`)
  }
  const args = positional.slice(form.words.length)
  const missing = form.args.filter((a, i) => !a.optional && args[i] === undefined)
  if (missing.length > 0) return usageError(name, `missing ${missing.map((a) => a.name).join(" ")}`)
  if (args.length > form.args.length) return usageError(name, `unexpected argument "${args[form.args.length]}"`)
  for (const [key, spec] of form.flags) if (spec.required && flags[key] === undefined) return usageError(name, `--${key} is required`)
  for (const key of [...Object.keys(flags), ...switches]) {
    if (!form.flags.has(key)) return usageError(name, `--${key} does not apply to imprint ${name} ${form.words.join(" ")}`.trimEnd())
  }
  return Either.right({ _tag: "Run", command: name, positional, flags, switches })
}
