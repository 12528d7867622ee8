import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeConfig } from "../../src/config.js"
import { NodeAdmission } from "../../src/workers/NodeAdmission.js"

/** The primary's count of the node's sessions (workers: N): the limits hold over all workers together. */

const admission = (smtp: Record<string, unknown>) => new NodeAdmission(Either.getOrThrow(decodeConfig({ dataDir: "/tmp/unused", smtp })))

describe("NodeAdmission", () => {
  it("counts maxClients over every worker; a closed session frees its place, whichever worker held it", () => {
    const node = admission({ maxClients: 3 })
    expect(node.admit(1, "s1", "10.0.0.1", true, 0)).toBeUndefined()
    expect(node.admit(2, "s1", "10.0.0.2", true, 0)).toBeUndefined()
    expect(node.admit(1, "s2", "10.0.0.3", false, 0)).toBeUndefined()
    expect(node.admit(2, "s2", "10.0.0.4", true, 0)).toBe("clients")
    node.closed(1, "s1")
    expect(node.admit(2, "s2", "10.0.0.4", true, 0)).toBeUndefined()
  })

  it("counts an unbound address's sessions over every worker, and its binding leaves the unbound share", () => {
    const node = admission({ maxConnectionsPerAddress: 2, maxUnboundClients: 3 })
    expect(node.admit(1, "a", "192.0.2.7", false, 0)).toBeUndefined()
    expect(node.admit(2, "a", "192.0.2.7", false, 0)).toBeUndefined()
    expect(node.admit(1, "b", "192.0.2.7", false, 0)).toBe("address-connections")
    expect(node.admit(2, "b", "192.0.2.8", false, 0)).toBeUndefined()
    expect(node.admit(1, "c", "192.0.2.9", false, 0)).toBe("unbound-share")
    node.bound(1, "a")
    expect(node.unboundSessions).toBe(2)
    expect(node.admit(1, "c", "192.0.2.9", false, 0)).toBeUndefined()
  })

  it("forgets the sessions of a worker that exited, and only those", () => {
    const node = admission({ maxClients: 2 })
    expect(node.admit(1, "x", "10.0.0.1", true, 0)).toBeUndefined()
    expect(node.admit(2, "x", "10.0.0.1", true, 0)).toBeUndefined()
    expect(node.admit(1, "y", "10.0.0.1", true, 0)).toBe("clients")
    node.workerExited(1)
    expect(node.admit(1, "y", "10.0.0.1", true, 0)).toBeUndefined()
    expect(node.admit(1, "z", "10.0.0.1", true, 0)).toBe("clients")
  })
})
