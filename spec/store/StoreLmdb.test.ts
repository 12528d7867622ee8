import { Layer } from "effect"
import { Store } from "../../src/store/Store.js"
import { storeContract } from "./StoreContract.js"
import { TempStorePath } from "./TempStore.js"

/** The store contract on the single-node backend: LMDB alone, in a temp folder. */
storeContract("LMDB", () => Store.Default.pipe(Layer.provide(TempStorePath)))
