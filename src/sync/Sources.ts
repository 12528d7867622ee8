import { Either, ParseResult, Schema } from "effect"
import { type DirectorySource, SourceError } from "./DirectorySource.js"
import { makeGraphSource } from "./GraphSource.js"
import { LdapSourceConfig, makeLdapSource } from "./LdapSource.js"
import type { GraphSourceSettings, LdapSourceSettings } from "../domain/SyncSettings.js"

/**
 * Configured sources → DirectorySources. The one place that knows every
 * source kind, so DirectorySync and the CLI stay kind-agnostic.
 */

const ldapConfig = (settings: LdapSourceSettings) => {
  const { _tag, name, ...config } = settings
  return Schema.decodeUnknownEither(LdapSourceConfig)(config, { onExcessProperty: "error" })
}

/** Checks a source's settings as its source will read them (the admin API answers 400 with this message). */
export const settingsProblem = (settings: GraphSourceSettings | LdapSourceSettings): string | undefined => {
  if (settings._tag !== "ldap") return undefined
  const decoded = ldapConfig(settings)
  return Either.isLeft(decoded) ? `source ${settings.name}: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}` : undefined
}

/**
 * Sources are kept while their settings stay the same, so a Graph source's
 * token cache outlives a pass. Bounded: past the limit the oldest is dropped.
 */
export const MAX_CACHED_SOURCES = 1_000
const cache = new Map<string, DirectorySource>()

export const makeSource = (settings: GraphSourceSettings | LdapSourceSettings): Either.Either<DirectorySource, SourceError> => {
  const key = JSON.stringify(settings)
  const known = cache.get(key)
  if (known !== undefined) return Either.right(known)
  const made = build(settings)
  if (Either.isRight(made)) {
    if (cache.size >= MAX_CACHED_SOURCES) cache.delete(cache.keys().next().value!)
    cache.set(key, made.right)
  }
  return made
}

const build = (settings: GraphSourceSettings | LdapSourceSettings): Either.Either<DirectorySource, SourceError> => {
  switch (settings._tag) {
    case "graph":
      return Either.right(makeGraphSource(settings))
    case "ldap":
      return Either.map(
        Either.mapLeft(
          ldapConfig(settings),
          (e) => new SourceError({ source: `ldap:${settings.name}`, message: ParseResult.TreeFormatter.formatErrorSync(e), retryable: false })
        ),
        (config) => makeLdapSource(config)
      )
  }
}
