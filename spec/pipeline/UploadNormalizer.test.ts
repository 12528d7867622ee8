import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import { Readable } from "node:stream"
import { text } from "node:stream/consumers"
import { UploadLimitExceeded, UploadNormalizer } from "../../src/pipeline/DryRun.js"
import { toCrlf } from "../support/Corpus.js"

/** The test stamp's upload stage: any line ends in, CRLF out, whatever the chunking; a byte limit. */
const run = async (chunks: ReadonlyArray<Buffer>, limit = 1_000_000) =>
  Buffer.from(await text(Readable.from(chunks).pipe(new UploadNormalizer(limit))), "latin1")

const splitAt = (bytes: Buffer, cuts: ReadonlyArray<number>): Array<Buffer> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Array<Buffer> = []
  let from = 0
  for (const p of points) {
    out.push(bytes.subarray(from, p))
    from = p
  }
  out.push(bytes.subarray(from))
  return out.filter((b) => b.length > 0)
}

describe("UploadNormalizer", () => {
  it("turns bare LF and bare CR into CRLF and leaves CRLF alone, across any chunk boundaries", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(0x0d, 0x0a, 0x61, 0x2e), { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 8 }), async (bytes, cuts) => {
        const input = Buffer.from(bytes)
        const output = await run(splitAt(input, cuts))
        expect(output.toString("latin1")).toBe(toCrlf(input).toString("latin1"))
      }),
      { numRuns: 300 }
    )
  })

  it("fails once more than the limit has arrived", async () => {
    await expect(run([Buffer.alloc(6, 0x61), Buffer.alloc(5, 0x61)], 10)).rejects.toBeInstanceOf(UploadLimitExceeded)
    expect((await run([Buffer.alloc(10, 0x61)], 10)).length).toBe(10)
  })
})
