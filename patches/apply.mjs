#!/usr/bin/env node
/**
 * Applies Imprint's documented patches to dependencies after `npm ci` / `npm install`
 * (root `postinstall`). Each patch is an exact text replacement with a marker, so it is
 * idempotent, visible (patches/README.md), and fails the install loudly when a dependency
 * upgrade changed the patched code — never a silent run-time monkey-patch.
 * spec/pipeline/smtp/PatchedSmtpServer.test.ts checks the patched behaviour.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const mark = (id) => `/* imprint-patch:${id} */`

const smtpServerFiles = ["esm", "cjs"].map((flavour) => `node_modules/smtp-server/dist/${flavour}/smtp-connection.js`)

/** @type {Array<{ id: string, name: string, files: string[], edits: Array<{ find: RegExp, replace: string, count?: number, onlyIn?: string }> }>} */
const patches = [
  {
    // smtp-server waits 100 ms before every greeting to catch early talkers, with no option.
    // On a relay fed by MTAs over a connector that wait caps new-connection throughput
    // (~180 msgs/s measured), so it becomes the option `earlyTalkerDelayMs` (default 100).
    id: "early-talker-delay",
    name: "smtp-server: earlyTalkerDelayMs option",
    files: smtpServerFiles,
    edits: [{
      find: /setTimeout\(\(\) => this\.connectionReady\(\), 100\);/,
      replace: `setTimeout(() => this.connectionReady(), ${mark("early-talker-delay")} (this._server.options.earlyTalkerDelayMs ?? 100));`
    }]
  },
  {
    // smtp-server advertises AUTH before STARTTLS even when allowInsecureAuth is off and it
    // would refuse it; clients then try and fail. Advertise AUTH only when it is accepted
    // (as Postfix does with smtpd_tls_auth_only).
    id: "auth-only-after-tls",
    name: "smtp-server: advertise AUTH only when it would be accepted",
    files: smtpServerFiles,
    edits: [{
      find: /if \(this\._server\.options\.authMethods\.length && this\._isSupported\('AUTH'\) && !this\.session\.user\) \{/,
      replace: `if (this._server.options.authMethods.length && this._isSupported('AUTH') && !this.session.user && ${mark("auth-only-after-tls")} (this.secure || this._server.options.allowInsecureAuth)) {`
    }]
  },
  {
    // With ENHANCEDSTATUSCODES on, smtp-server derives the enhanced code of a handler's
    // error from its basic code (550 → 5.1.1), so a relay cannot mirror a downstream's
    // "450 4.7.1" or say "550 5.7.1". An error may now carry `enhancedStatusCode`.
    id: "enhanced-status-code",
    name: "smtp-server: err.enhancedStatusCode in handler replies",
    files: smtpServerFiles,
    edits: [
      {
        find: /if \(context === false \|\| !this\._useEnhancedStatusCodes\(\)\) \{\n(\s*)return '';\n(\s*)\}/,
        replace: `if (context === false || !this._useEnhancedStatusCodes()) {\n$1return '';\n$2}\n$2${mark("enhanced-status-code")} if (typeof context === 'string' && /^[245]\\.\\d{1,3}\\.\\d{1,3}$/.test(context)) {\n$1return context;\n$2}`
      },
      {
        find: /this\.send\(err\.responseCode \|\| (\d{3}), err\.message\);/g,
        replace: `this.send(err.responseCode || $1, err.message, ${mark("enhanced-status-code")} err.enhancedStatusCode);`
      }
    ]
  }
]

patches.push({
  // smtp-server's DATA reader held the last 4 bytes of every socket read back (a dot-stuffing
  // escape or the terminating "\r\n.\r\n" may straddle two reads) and joined them to the next read
  // with Buffer.concat: every byte of a message was copied once, half of the Buffer garbage a big
  // message makes in the relay (the 100 MB memory check). A read whose last byte is neither CR, LF
  // nor a dot cannot end inside either sequence (a dot at a line start before that byte is neither
  // an escape nor the end), so it now goes on whole, as a slice of the read, and the next read is
  // scanned alone from its second byte (its first cannot start a line, and a terminator there
  // would need a CR before it). Other reads are held and joined as before.
  // The same bytes, byte count, terminator and pipelined commands whatever the cuts:
  // spec/pipeline/smtp/SmtpStreamData.test.ts.
  id: "smtp-stream-no-copy",
  name: "smtp-server: hand on a DATA read without copying it when its tail cannot start an escape or the end",
  files: ["esm", "cjs"].map((flavour) => `node_modules/smtp-server/dist/${flavour}/smtp-stream.js`),
  edits: [
    {
      find: /(\n([ \t]*))this\._atDataStart = true;\n/,
      replace: `$1this._atDataStart = true;$1${mark("smtp-stream-no-copy")} this._afterPlainTail = false;\n`
    },
    {
      find: /(\n([ \t]*))let handled;\n/,
      replace: `$1let handled;$1${mark("smtp-stream-no-copy")} // the bytes before this chunk ended with one that is neither CR, LF nor a dot (none held back)$1const afterPlainTail = this._afterPlainTail === true;$1this._afterPlainTail = false;\n`
    },
    {
      find: /for \(i = 2; i < len - 2; i\+\+\) \{/,
      replace: "for (i = afterPlainTail ? 1 : 2; i < len - 2; i++) {"
    },
    {
      find: /if \(Buffer\.compare\(chunk\.subarray\(i - 2, i \+ 3\), END_SEQUENCE\) === 0\) \{/,
      replace: "if (i >= 2 && Buffer.compare(chunk.subarray(i - 2, i + 3), END_SEQUENCE) === 0) {"
    },
    {
      find: /(\n([ \t]*))\/\/ keep the last bytes\n[ \t]*if \(chunk\.length < 4\) \{\n([ \t]*)this\._lastBytes = chunk;\n/,
      replace:
        `$1// keep the last bytes$1${mark("smtp-stream-no-copy")} const plain = (b) => b !== 0x0d && b !== 0x0a && b !== 0x2e;` +
        "$1if (chunk.length >= 4 && plain(chunk[chunk.length - 1])) {" +
        "$1    // no escape or end can include these bytes: all of them go on now, as a slice, not a copy" +
        "$1    this._lastBytes = chunk.subarray(chunk.length);$1    this._afterPlainTail = true;$1}" +
        "$1else if (chunk.length < 4) {\n$3this._lastBytes = chunk;$1    // still nothing held from before this chunk's bytes$1    this._afterPlainTail = afterPlainTail;\n"
    }
  ]
})

patches.push({
  // mailsplit dropped the header bytes of a MIME part whose header block is ended by the
  // next sibling's boundary instead of a blank line (MIME-tools' double-bound test message):
  // the node was replaced without being emitted. It is now emitted as a header-only part,
  // as it already was when the parent's closing boundary ends it, so bytes pass unchanged.
  id: "mailsplit-header-only-part",
  name: "mailsplit: emit a header-only part ended by a sibling boundary",
  files: ["node_modules/mailsplit/lib/message-splitter.js"],
  edits: [{
    find: /case 3: \{\n(\s*)\/\/ next sibling\n/,
    replace: `case 3: {\n$1// next sibling\n$1${mark("mailsplit-header-only-part")} if (this.node && this.node._headerlen && !this.node.headers) {\n$1    this.node.parseHeaders();\n$1    this.push(this.node);\n$1}\n`
  }]
})

patches.push({
  // mailsplit's Splitter handed every line to the next event-loop turn (setImmediate per
  // line): a 1 MB attachment of base64 lines cost ~13,000 turns, ~25 ms of CPU per message
  // and most of the stamped 1 MB latency. A line whose processing called back at once now
  // continues in the same loop (a trampoline: no recursion, no stack growth); a line whose
  // processing is really asynchronous still resumes through setImmediate. Bytes, order and
  // backpressure are unchanged (one chunk is still processed before _transform calls back).
  id: "mailsplit-sync-lines",
  name: "mailsplit: continue with the next line in the same turn when a line was processed synchronously",
  files: ["node_modules/mailsplit/lib/message-splitter.js"],
  edits: [
    {
      find: /(\n([ \t]*))let iterateData = \(\) => \{/,
      replace: `$1${mark("mailsplit-sync-lines")} let inLine = false;$1let again = false;$1let next = () => {$1    if (inLine) {$1        again = true;$1    } else {$1        setImmediate(iterateData);$1    }$1};$1let iterateData = () => {`
    },
    {
      find: /return this\.processLine\(chunk\.slice\(start, i\), false, \(err, data, flush\) => \{/,
      replace: "inLine = true;\n                    again = false;\n                    this.processLine(chunk.slice(start, i), false, (err, data, flush) => {"
    },
    {
      find: /return setImmediate\(iterateData\);/g,
      replace: "return next();"
    },
    {
      find: /\}\);\n(\s*)\}\n(\s*)\}\n\n(\s*)\/\/ skip last linebreak for body/,
      replace: "});\n$1    inLine = false;\n$1    if (again) {\n$1        i--; // the loop's i++ brings it back to the line after the one just processed\n$1        continue;\n$1    }\n$1    return;\n$1}\n$2}\n\n$3// skip last linebreak for body"
    }
  ]
}, {
  // applies after mailsplit-sync-lines (same loop)
  id: "mailsplit-body-runs",
  name: "mailsplit: find line ends with indexOf and extend a body run without processLine for lines that cannot be a boundary",
  files: ["node_modules/mailsplit/lib/message-splitter.js"],
  edits: [
    {
      find: /(\n([ \t]*))for \(let len = chunk\.length; i < len; i\+\+\) \{\n([ \t]*)\/\/ find next <LF>\n/,
      replace: `$1for (let len = chunk.length; i < len; i++) {$1    ${mark("mailsplit-body-runs")} i = chunk.indexOf(0x0a, i);$1    if (i === -1) {$1        i = len;$1        break;$1    }\n$3// find next <LF>\n`
    },
    {
      find: /(\n([ \t]*))pos = \+\+i;\n\n([ \t]*)inLine = true;/,
      replace:
        "$1pos = ++i;$1// a body line that cannot start a boundary (not '-', CR or LF first) only extends the body run:$1// exactly what processLine would answer for it, without a slice and a callback per line$1" +
        "if (group.type === 'body' && group.node === this.node && this.state === BODY && !this.line && chunk[start] !== 0x2d && chunk[start] !== 0x0d && chunk[start] !== 0x0a) {$1    groupend = i;$1    i--;$1    continue;$1}\n\n$3inLine = true;"
    }
  ]
})

patches.push({
  // A part whose body is one empty line, before the boundary of a next part: when the empty line
  // and the boundary line were in one written chunk, the Splitter handed on the empty line's
  // break as the part's body (a body run stripped of its last line break to nothing is pushed
  // with the line it started with) and the boundary line without it; when a chunk ended between
  // them, the break waited with the unfinished line and went on in front of the boundary line,
  // and the part had no body. What a part's body is then depended on where a TCP read ended. The
  // break held at a chunk's end is now remembered with its part, and a boundary line of a next
  // part that finishes it hands it on as the whole-chunk case does. (A closing boundary takes the
  // break in both cases, as before.) src/pipeline/mime/MimeScanner.ts does the same.
  id: "mailsplit-empty-line-body",
  name: "mailsplit: a body of one empty line is handed on the same wherever a chunk ends",
  files: ["node_modules/mailsplit/lib/message-splitter.js"],
  edits: [
    {
      find: /(\n[ \t]*)\/\/ skip last linebreak for body(\n[ \t]*)if \(pos >= groupstart \+ 1 && group\.type === 'body' && group\.node\.parentNode\) \{(\n[ \t]*)\/\/ do not include the last line ending for body(\n[ \t]*)if \(chunk\[pos - 1\] === 0x0a\) \{\n[ \t]*pos--;\n[ \t]*if \(pos >= groupstart && chunk\[pos - 1\] === 0x0d\) \{\n[ \t]*pos--;\n[ \t]*\}\n[ \t]*\}(\n[ \t]*)\}/,
      replace:
        "$1// skip last linebreak for body$2if (pos >= groupstart + 1 && group.type === 'body' && group.node.parentNode) {$3" +
        `${mark("mailsplit-empty-line-body")} let end = pos;$3// do not include the last line ending for body$4if (chunk[pos - 1] === 0x0a) {$4    pos--;$4    if (pos >= groupstart && chunk[pos - 1] === 0x0d) {$4        pos--;$4    }$4}` +
        "$3// the run was one empty line, now held at the start of this.line$3if (pos === groupstart && pos < end) {$3    this._heldBreak = { node: group.node, length: end - pos };$3}$5}"
    },
    {
      find: /(\n([ \t]*))\/\/ we check boundary outside the HEAD\/BODY scope as it may appear anywhere\n[ \t]*let boundary = this\.checkBoundary\(line\);\n[ \t]*if \(boundary\) \{\n/,
      replace:
        "$1let held = this._heldBreak;$1this._heldBreak = false;\n$1// we check boundary outside the HEAD/BODY scope as it may appear anywhere$1let boundary = this.checkBoundary(line);$1if (boundary) {" +
        "$1    // a held empty line before a next part's boundary is the part's body, as when both came in one chunk$1    if (held && !final && (boundary === 1 || boundary === 3)) {" +
        "$1        this.push({ node: held.node, type: 'body', value: line.slice(0, held.length) });$1        line = line.slice(held.length);$1    }\n"
    }
  ]
})

patches.push({
  // A part with header lines and no blank line, ended by its parent's closing boundary: when the
  // header lines and the boundary line were in one written chunk, the boundary's data run started
  // where the last run ended, before the header lines, so their bytes went on twice (in the node and
  // in the data); when a chunk ended between them, once. A header line now moves the start of the
  // next run past it. (The same part ended by a sibling's boundary is mailsplit-header-only-part.)
  // src/pipeline/mime/MimeScanner.ts does the same.
  id: "mailsplit-header-only-close",
  name: "mailsplit: the header lines of a part ended by its parent's closing boundary go on once",
  files: ["node_modules/mailsplit/lib/message-splitter.js"],
  edits: [
    {
      find: /(\n([ \t]*))if \(!data\) \{\n([ \t]*)return next\(\);/,
      replace: `$1if (!data) {\n$3${mark("mailsplit-header-only-close")} if (group.type === 'none') {\n$3    groupend = i;\n$3}\n$3return next();`
    }
  ]
})

patches.push({
  // V8's parser allocates a function literal that is assigned straight to a property
  // (`obj.prop = () => ...`) in the old generation: it guesses such a function is a long-lived
  // method. effect's core builds its per-call primitives that way (the resume wrapper of
  // Effect.async and Effect.asyncInterrupt, the continuation of interruptible/uninterruptible and
  // their masks, withRuntimeFlags), so every wait and every mask made an old-space closure whose
  // context reaches the waiting code's data. Dead old objects count as live for the young
  // generation's collector until the next full collection, so each message's objects were kept
  // through scavenges, promoted, and pretenured by V8 after a while (perf/issue-16.md, "the ninth
  // session"; perf/AsyncRetention.ts measures the effect). Wrapping the literal in a comma
  // expression, `(0, () => ...)`, makes it an ordinary young allocation; the function is the same.
  // spec/PatchedEffect.test.ts checks it.
  id: "effect-young-closures",
  name: "effect: the per-call closures of async, asyncInterrupt and the interruption masks are young allocations",
  files: ["esm", "cjs"].map((flavour) => `node_modules/effect/dist/${flavour}/internal/core.js`),
  edits: [
    {
      // the resume wrappers of unsafeAsync and async_ (several lines each, ended by "};" at the same indent)
      find: /(\n([ \t]*)effect\.effect_instruction_i0 = )(resume => \{\n[\s\S]*?\n\2\});/g,
      replace: `$1${mark("effect-young-closures")} (0, $3);`,
      count: 2
    },
    {
      // interruptible, interruptibleMask, uninterruptible, uninterruptibleMask, withRuntimeFlags (one line each)
      find: /(\n[ \t]*effect\.effect_instruction_i1 = )((?:\(\)|oldFlags) => [^\n]*);\n/g,
      replace: `$1${mark("effect-young-closures")} (0, $2);\n`,
      count: 5
    }
  ]
})

patches.push({
  // RFC 2920 lets a server hold the replies to a pipelined group while more of the group is in its
  // input, as Postfix does; smtp-server wrote every reply as it came, one syscall (and one wake-up of
  // the client) each. With the server option `holdPipelinedReplies`, the reply to MAIL, RCPT or RSET
  // is held (the socket corked) while a complete command follows it in the input already read, and
  // sent with the next reply that is not held (DATA's 354, EHLO's, any other), when the parser runs
  // out of complete commands, or when the connection ends. A pipelining client's MAIL, RCPT and DATA
  // are then answered in one write instead of three; a client that waits for each reply sees no
  // change (its command is never followed by another in the input). With the option, handlers also
  // find the next complete command's name in `session.pipelinedNext` (Imprint pipelines DATA after
  // the last RCPT with it). spec/pipeline/smtp/PipelinedReplies.test.ts, spec/e2e/PipelinedData.test.ts.
  id: "pipelined-replies",
  name: "smtp-server: holdPipelinedReplies option (a pipelined group's replies in one write)",
  files: ["esm", "cjs"].flatMap((flavour) => [`node_modules/smtp-server/dist/${flavour}/smtp-stream.js`, `node_modules/smtp-server/dist/${flavour}/smtp-connection.js`]),
  edits: [
    {
      // the parser: is a complete command already read after the one dispatched now?
      find: /(\n([ \t]*))this\.oncommand\(Buffer\.from\(line, 'binary'\), readLine\);/,
      replace:
        `$1${mark("pipelined-replies")} const nextEnd = data.indexOf('\\n', pos);` +
        `$1// the start of the next complete command already read (enough for its name), undefined when there is none` +
        `$1this.nextCommand = nextEnd === -1 ? undefined : data.slice(pos, Math.min(nextEnd, pos + 12));` +
        `$1this.oncommand(Buffer.from(line, 'binary'), readLine);`,
      onlyIn: "smtp-stream.js"
    },
    {
      // the parser waits for input: nothing may stay held
      find: /(\n([ \t]*))if \(!match\) \{\n/,
      replace: `$1if (!match) {$1    ${mark("pipelined-replies")} this.nextCommand = undefined;$1    if (this.oninputdrained) {$1        this.oninputdrained();$1    }\n`,
      onlyIn: "smtp-stream.js"
    },
    {
      // the last line of an ended stream
      find: /(\n([ \t]*))this\.oncommand\(Buffer\.from\(line, 'binary'\)\);/,
      replace: `$1${mark("pipelined-replies")} this.nextCommand = undefined;$1this.oncommand(Buffer.from(line, 'binary'));`,
      onlyIn: "smtp-stream.js"
    },
    {
      find: /(\n([ \t]*))parser\.oncommand = \(command, callback\) => this\._onCommand\(command, callback\);/,
      replace: `$1parser.oncommand = (command, callback) => this._onCommand(command, callback);$1${mark("pipelined-replies")} const drained = () => this._sendHeldReplies();$1parser.oninputdrained = drained;`,
      onlyIn: "smtp-connection.js"
    },
    {
      find: /(\n([ \t]*))let commandName = \(command \|\| ''\)\.toString\(\)\.split\(' '\)\.shift\(\)\.toUpperCase\(\);/,
      replace:
        `$1let commandName = (command || '').toString().split(' ').shift().toUpperCase();` +
        `$1${mark("pipelined-replies")} const pipelinedNext = this._server.options.holdPipelinedReplies === true ? this._parser.nextCommand : undefined;` +
        `$1this._holdReply = pipelinedNext !== undefined && (commandName === 'MAIL' || commandName === 'RCPT' || commandName === 'RSET');` +
        `$1// the handlers may look ahead: the next complete command's name (RFC 2920 lets a relay pipeline DATA after its last RCPT)` +
        `$1this.session.pipelinedNext = pipelinedNext === undefined ? undefined : pipelinedNext.split(/[ \\r]/)[0].toUpperCase();`,
      onlyIn: "smtp-connection.js"
    },
    {
      find: /(\n([ \t]*))this\._socket\.write\(payload \+ '\\r\\n'\);/,
      replace:
        `$1${mark("pipelined-replies")} if (this._holdReply === true) {$1    this._holdReply = false;$1    if (!this._heldReplies) {$1        this._socket.cork();$1        this._heldReplies = this._socket;$1    }$1    this._socket.write(payload + '\\r\\n');$1}$1else {$1    this._socket.write(payload + '\\r\\n');$1    this._sendHeldReplies();$1}`,
      onlyIn: "smtp-connection.js"
    },
    {
      find: /(\n([ \t]*))_whenWritable\(next\) \{/,
      replace: `$1${mark("pipelined-replies")} _sendHeldReplies() {$1    const held = this._heldReplies;$1    if (held) {$1        this._heldReplies = false;$1        held.uncork();$1    }$1}$1_whenWritable(next) {`,
      onlyIn: "smtp-connection.js"
    }
  ]
})

let failed = false
for (const patch of patches) {
  for (const rel of patch.files) {
    const file = path.join(root, rel)
    if (!fs.existsSync(file)) {
      console.error(`patches: ${rel} not found (${patch.name})`)
      failed = true
      continue
    }
    let text = fs.readFileSync(file, "utf8")
    if (text.includes(mark(patch.id))) continue // applied by an earlier install
    let changed = false
    for (const edit of patch.edits) {
      if (edit.onlyIn !== undefined && path.basename(rel) !== edit.onlyIn) continue
      if (!edit.find.test(text)) {
        console.error(`patches: "${patch.name}" does not match ${rel}; the dependency changed, update patches/apply.mjs`)
        failed = true
        continue
      }
      edit.find.lastIndex = 0
      const found = edit.find.global ? (text.match(edit.find) ?? []).length : 1
      if (edit.count !== undefined && found !== edit.count) {
        console.error(`patches: "${patch.name}" matches ${found} places in ${rel}, expected ${edit.count}; the dependency changed, update patches/apply.mjs`)
        failed = true
        continue
      }
      edit.find.lastIndex = 0
      text = text.replace(edit.find, edit.replace)
      edit.find.lastIndex = 0
      changed = true
    }
    if (changed) fs.writeFileSync(file, text)
  }
}
if (failed) process.exit(1)
console.log(`patches: ${patches.length} dependency patches in place (see patches/README.md)`)
