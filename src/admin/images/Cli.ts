import { Console, Effect } from "effect"
import * as fs from "node:fs"
import { hostedImagePath } from "../../domain/Images.js"
import { TenantId } from "../../domain/Tenant.js"
import { saveImage } from "../../images/ImageLibrary.js"
import { ImageRepo, MAX_IMAGE_BYTES } from "../../store/ImageRepo.js"

/**
 * `imprint image upload|replace TENANT ID FILE`, `list TENANT`, `delete TENANT ID`:
 * the image library from the command line, against the same data folder
 * (a running server's actors pick the change up from the store). The same
 * checks as the admin API: sniffed type, SVG refused, 1 MB per image, 50 MB
 * per tenant, no deleting an image a template shows.
 */

export const IMAGE_USAGE = `  imprint image upload TENANT ID FILE [--config FILE]
  imprint image replace TENANT ID FILE [--config FILE]
  imprint image list TENANT [--config FILE]
  imprint image delete TENANT ID [--config FILE]`

const usage = () => Effect.fail(new Error(`usage:\n${IMAGE_USAGE}`))

const readFile = (file: string) =>
  Effect.try({
    try: () => {
      const size = fs.statSync(file).size
      // checked before the file is read, as the API checks Content-Length
      if (size > MAX_IMAGE_BYTES) throw new Error(`${file} is ${size} bytes; an image may have at most ${MAX_IMAGE_BYTES} bytes (1 MB)`)
      return fs.readFileSync(file)
    },
    catch: (e) => new Error(e instanceof Error ? e.message : String(e))
  })

export const imageCommand = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const repo = yield* ImageRepo
    const [action, tenant, id, file] = args
    if (tenant === undefined) return yield* usage()
    const tenantId = TenantId.make(tenant)
    switch (action) {
      case "upload":
      case "replace": {
        if (id === undefined || file === undefined) return yield* usage()
        const bytes = yield* readFile(file)
        const { image } = yield* saveImage(repo, tenantId, id, bytes, action === "upload" ? "create" : "replace")
        return yield* Console.log(
          `${image.id}\t${image.type} ${image.width}x${image.height}\t${image.bytes} bytes\t${hostedImagePath(tenantId, image)}\tuse <img src="image:${image.id}">`
        )
      }
      case "list": {
        yield* repo.requireTenant(tenantId)
        for (const image of yield* repo.list(tenantId)) {
          yield* Console.log(`${image.id}\t${image.type} ${image.width}x${image.height}\t${image.bytes} bytes\t${image.sha256}`)
        }
        return
      }
      case "delete": {
        if (id === undefined) return yield* usage()
        yield* repo.remove(tenantId, id)
        return yield* Console.log(`image ${id} deleted`)
      }
      default:
        return yield* usage()
    }
  })
