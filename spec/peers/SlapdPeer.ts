/**
 * The OpenLDAP peer of the LDAP source specs: perf/Slapd.ts's server (the
 * same one the sync benchmark uses) loaded with perf/LdapDirectory.ts's
 * generated AD-like directory, with a self-signed certificate for ldaps:// and
 * StartTLS. Needs Debian's slapd; .ci/run installs it.
 */
import { makeSelfSigned } from "../support/Certs.js"
import { ROOT_DN, SERVICE_DN, SERVICE_PASSWORD, SUFFIX, writeDirectory } from "../../perf/LdapDirectory.js"
import { slapdUnavailable, startSlapd, type SlapdServer } from "../../perf/Slapd.js"
import type { LdapSourceConfig } from "../../src/sync/LdapSource.js"

export { slapdUnavailable, type SlapdServer }

/** the root DN's password (writes in tests: deleting a user at the source) */
export const ROOT_PASSWORD = "root-Secret-1"

export interface DirectoryPeer extends SlapdServer {
  /** the CA a client must trust for ldaps:// and StartTLS (the server's self-signed certificate) */
  readonly caCert: string
  /** a source config reading the whole directory as the service account, with `overrides` */
  readonly config: (overrides?: Partial<LdapSourceConfig>) => LdapSourceConfig
}

export const startDirectoryPeer = async (users: number): Promise<DirectoryPeer> => {
  const tls = await makeSelfSigned("127.0.0.1")
  const server = await startSlapd({
    suffix: SUFFIX,
    rootDn: ROOT_DN,
    rootPassword: ROOT_PASSWORD,
    tls: { key: tls.key, cert: tls.cert },
    load: (write) => writeDirectory(users, write)
  })
  return {
    ...server,
    caCert: tls.cert,
    config: (overrides = {}) => ({ url: server.url, bindDn: SERVICE_DN, password: SERVICE_PASSWORD, baseDn: SUFFIX, ...overrides })
  }
}
