import { demoDirectory, demoSignatureContent } from "../signature/DemoContent.js"

/**
 * The demo tenant `npm start` provisions: domain demo.example, bound by any
 * loopback source address or by SMTP AUTH (demo / demo-password-1, over
 * STARTTLS), with the demo signature content (templates, rules, five
 * directory entries). Its mail goes to the server's default downstream, which
 * demo mode points at the capture server.
 */
export const DEMO_TENANT_ID = "demo"
/** the first demo directory entry, so the sample message gets stamped */
export const DEMO_SENDER: string = demoDirectory[0].mail

export const demoTenantFile = (): Record<string, unknown> => ({
  id: DEMO_TENANT_ID,
  name: "Demo Company",
  domains: ["demo.example"],
  connectors: [
    { type: "cidr", cidrs: ["127.0.0.0/8", "::1/128"] },
    { type: "auth", username: "demo", password: "demo-password-1" }
  ],
  ...demoSignatureContent()
})

/** The directory's display name for a demo address (mail or alias), so a sample's From matches its signature. */
export const demoDisplayName = (address: string): string | undefined => {
  const wanted = address.toLowerCase()
  return demoDirectory.find((u) => u.mail === wanted || (u.proxyAddresses ?? []).some((p) => p.toLowerCase() === `smtp:${wanted}`))?.displayName
}
