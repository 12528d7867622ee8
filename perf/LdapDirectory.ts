/**
 * A generated, deterministic AD-like directory for slapd (perf/Slapd.ts): the
 * LDIF that is loaded and the model of each user that a reader should get
 * back, from the same function, so a test compares what came through LDAP
 * with what went in rather than with numbers written by hand.
 *
 * Layout: ou=<Department>,ou=people,<suffix> per department; groups in
 * ou=groups (one with an escaped comma in its CN); a service account in
 * ou=service that readers bind as; a mail-enabled group and a person without
 * mail (both outside the default filter); and, when asked, entries with bad
 * data (markup in a title, a binary photo).
 */
import { sshaPassword } from "./Slapd.js"

export const SUFFIX = "dc=corp,dc=example"
export const ROOT_DN = `cn=admin,${SUFFIX}`
export const SERVICE_DN = `cn=imprint-sync,ou=service,${SUFFIX}`
export const PEOPLE_DN = `ou=people,${SUFFIX}`
export const GROUPS_DN = `ou=groups,${SUFFIX}`
export const MAIL_DOMAIN = "corp.example"
export const DEPARTMENTS = ["Sales", "Engineering", "Finance", "Support"] as const
const GIVEN = ["Alice", "Jürgen", "Zoë", "José", "Mei", "Oluwaseun", "Anna-Lena", "Björn"]
const CITIES = [
  ["London", "", "EC1A 1BB", "United Kingdom"],
  ["München", "Bayern", "80331", "Germany"],
  ["Lyon", "", "69002", "France"]
] as const

/** the group DNs every user of a department is in, with the CN a "cn" mapping yields */
export const ALL_STAFF = { dn: `cn=All Staff,${GROUPS_DN}`, cn: "All Staff" }
export const SALES_EMEA = { dn: `cn=Sales\\, EMEA,${GROUPS_DN}`, cn: "Sales, EMEA" }
export const teamGroup = (department: string) => ({ dn: `cn=${department} Team,${GROUPS_DN}`, cn: `${department} Team` })

export const departmentOf = (i: number) => DEPARTMENTS[i % DEPARTMENTS.length]
export const userDn = (i: number) => `uid=user${i},ou=${departmentOf(i)},${PEOPLE_DN}`

/** the attributes of generated user i as written to LDAP (multi-valued ones as arrays) */
export const userAttributes = (i: number) => {
  const department = departmentOf(i)
  const [l, st, postalCode, co] = CITIES[i % CITIES.length]
  const givenName = GIVEN[i % GIVEN.length]
  const sn = `Tester${i}`
  const groups = [ALL_STAFF, teamGroup(department), ...(department === "Sales" ? [SALES_EMEA] : [])]
  return {
    mail: `user${i}@${MAIL_DOMAIN}`,
    displayName: `${givenName} ${sn}`,
    givenName,
    sn,
    title: i % 10 === 0 ? "Team Lead" : "Specialist",
    department,
    company: "Contoso Ltd",
    telephoneNumber: `+44 20 7946 ${String(i % 10000).padStart(4, "0")}`,
    mobile: `+44 7700 ${String(900000 + (i % 100000)).padStart(6, "0")}`,
    physicalDeliveryOfficeName: `${l} ${1 + (i % 5)}`,
    l,
    ...(st === "" ? {} : { st }),
    postalCode,
    co,
    proxyAddresses: [`SMTP:user${i}@${MAIL_DOMAIN}`, `smtp:u${i}@${MAIL_DOMAIN}`, `X500:/o=Corp/ou=Exchange/cn=Recipients/cn=user${i}`],
    memberOf: groups
  }
}

// RFC 2849: a value that is not a SAFE-STRING goes base64 (non-ASCII, a leading space, colon or <, a trailing space)
const line = (name: string, value: string | Buffer): string => {
  if (Buffer.isBuffer(value)) return `${name}:: ${value.toString("base64")}\n`
  return /^[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(value) && !value.endsWith(" ")
    ? `${name}: ${value}\n`
    : `${name}:: ${Buffer.from(value, "utf8").toString("base64")}\n`
}

const entry = (dn: string, attrs: ReadonlyArray<readonly [string, string | Buffer]>): string =>
  line("dn", dn) + attrs.map(([n, v]) => line(n, v)).join("") + "\n"

const userLdif = (i: number, extra: ReadonlyArray<readonly [string, string | Buffer]> = [], override: Record<string, string> = {}): string => {
  const a = { ...userAttributes(i), ...override }
  const attrs: Array<readonly [string, string | Buffer]> = [
    ["objectClass", "inetOrgPerson"],
    ["objectClass", "imprintAdUser"],
    ["uid", `user${i}`],
    ["cn", a.displayName]
  ]
  for (const [name, value] of Object.entries(a)) {
    if (name === "memberOf") for (const g of a.memberOf) attrs.push(["memberOf", g.dn])
    else if (Array.isArray(value)) for (const v of value as ReadonlyArray<string>) attrs.push([name, v])
    else attrs.push([name, value as string])
  }
  return entry(userDn(i), [...attrs, ...extra])
}

/** a JPEG header and invalid UTF-8: binary, as AD's thumbnailPhoto is */
export const PHOTO = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xc3, 0x28])

/** the generated users with bad data, by index: what makes each one bad */
export const BAD_USERS = { markupTitle: 1, binaryPhoto: 2 } as const
export const BAD_TITLE = "<b>Chief</b> Executive"
export const SERVICE_PASSWORD = "sync-Secret-1"
/** the mail of the group and the person that the default filter must leave out */
export const GROUP_MAIL = `all-staff@${MAIL_DOMAIN}`
export const NO_MAIL_PERSON_DN = `uid=nomail,${PEOPLE_DN}`

/** Writes the whole directory: suffix, OUs, service account, groups, `users` users (indexes 0…users-1). */
export const writeDirectory = (users: number, write: (ldif: string) => void): void => {
  write(
    entry(SUFFIX, [
      ["objectClass", "dcObject"],
      ["objectClass", "organization"],
      ["dc", "corp"],
      ["o", "Corp"]
    ])
  )
  for (const ou of ["people", "groups", "service"])
    write(
      entry(`ou=${ou},${SUFFIX}`, [
        ["objectClass", "organizationalUnit"],
        ["ou", ou]
      ])
    )
  for (const d of DEPARTMENTS)
    write(
      entry(`ou=${d},${PEOPLE_DN}`, [
        ["objectClass", "organizationalUnit"],
        ["ou", d]
      ])
    )
  write(
    entry(SERVICE_DN, [
      ["objectClass", "person"],
      ["cn", "imprint-sync"],
      ["sn", "service"],
      ["userPassword", sshaPassword(SERVICE_PASSWORD)]
    ])
  )
  for (const g of [ALL_STAFF, SALES_EMEA, ...DEPARTMENTS.map(teamGroup)]) {
    const mail: Array<readonly [string, string]> =
      g === ALL_STAFF
        ? [
            ["objectClass", "imprintAdUser"],
            ["mail", GROUP_MAIL]
          ]
        : []
    // groupOfNames needs a member; the users' memberOf is what a reader uses
    write(entry(g.dn, [["objectClass", "groupOfNames"], ...mail, ["cn", g.cn], ["member", SERVICE_DN]]))
  }
  write(
    entry(NO_MAIL_PERSON_DN, [
      ["objectClass", "inetOrgPerson"],
      ["uid", "nomail"],
      ["cn", "No Mail"],
      ["sn", "Mail"]
    ])
  )
  for (let i = 0; i < users; i++) {
    if (i === BAD_USERS.markupTitle) write(userLdif(i, [], { title: BAD_TITLE }))
    else if (i === BAD_USERS.binaryPhoto) write(userLdif(i, [["thumbnailPhoto", PHOTO]]))
    else write(userLdif(i))
  }
}
