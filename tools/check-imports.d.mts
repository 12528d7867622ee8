/** Types of tools/check-imports.mjs (plain JavaScript, so `node tools/check-imports.mjs` needs no build). */
export declare const ROOMS: Record<string, ReadonlyArray<string>>
export declare const ALLOWED: Record<string, string>
export declare const importGraph: (src: string) => Map<string, Set<string>>
export declare const cycles: (graph: Map<string, Set<string>>) => Array<Array<string>>
export declare const check: (src: string) => { files: number; violations: Array<string>; stale: Array<string> }
