/** A free loopback port, for a peer whose config takes a number (Postfix), or a port nothing listens on. */
export { freePort } from "../../perf/FreePort.js"
