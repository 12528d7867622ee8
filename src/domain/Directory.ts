import { Schema } from "effect"

/**
 * A directory entry with the attributes the seed service caches from Azure AD,
 * under their LDAP names. Lookups go by `mail` and every `proxyAddresses` entry.
 */
const Attr = Schema.optional(Schema.String)

/**
 * The user's photo (issue 17 item 3), as stored: the normalised JPEG's
 * SHA-256 (its bytes live apart, content-addressed, under
 * `tenant/<id>/photo-blob/`), its size, and `source`, what the directory said
 * of the photo it came from (Graph's `@odata.mediaEtag`, else the SHA-256 of
 * the bytes read): a sync that sees the same `source` again keeps the photo
 * without fetching or re-encoding it.
 */
export class DirectoryPhoto extends Schema.Class<DirectoryPhoto>("DirectoryPhoto")({
  sha256: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  width: Schema.Int.pipe(Schema.positive()),
  height: Schema.Int.pipe(Schema.positive()),
  bytes: Schema.Int.pipe(Schema.positive()),
  source: Schema.String.pipe(Schema.maxLength(256))
}) {}

export class DirectoryUser extends Schema.Class<DirectoryUser>("DirectoryUser")({
  mail: Schema.String.pipe(Schema.pattern(/^[^\s@]+@[^\s@]+$/, { message: () => "mail must be an address like a@example.com" })),
  displayName: Attr,
  givenName: Attr,
  sn: Attr,
  title: Attr,
  department: Attr,
  company: Attr,
  telephoneNumber: Attr,
  mobile: Attr,
  facsimileTelephoneNumber: Attr,
  physicalDeliveryOfficeName: Attr,
  streetAddress: Attr,
  /** city */
  l: Attr,
  /** state or province */
  st: Attr,
  postalCode: Attr,
  /** country */
  co: Attr,
  /** aliases; "smtp:" / "SMTP:" prefixes as Azure AD writes them are accepted */
  proxyAddresses: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** group names or ids */
  memberOf: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** free attributes, usable in templates as {{custom.name}} */
  custom: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  /** the photo signatures show with `{{#photo}}<img src="{{photo}}">{{/photo}}`; absent: the user has none */
  photo: Schema.optional(DirectoryPhoto)
}) {}

/** The attribute names a rule or template may refer to directly. */
export const DirectoryAttributes = [
  "mail",
  "displayName",
  "givenName",
  "sn",
  "title",
  "department",
  "company",
  "telephoneNumber",
  "mobile",
  "facsimileTelephoneNumber",
  "physicalDeliveryOfficeName",
  "streetAddress",
  "l",
  "st",
  "postalCode",
  "co"
] as const
export type DirectoryAttribute = (typeof DirectoryAttributes)[number]
