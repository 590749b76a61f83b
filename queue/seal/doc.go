// Package seal is the sealed part of job contract v2: the person's fields
// (name, birth date, gender, photo) encrypted so that only the printing
// daemons of a site can read them, bound to the job's clear fields.
//
// The exact wire format, with test vectors, is in docs/sealed-jobs.md at
// the root of the repository; this comment is a summary.
//
// # Construction
//
// Seal encodes the Person as a length-prefixed byte string (EncodePerson),
// encrypts it once with AES-256-GCM under a fresh random 32-byte content
// key and 12-byte nonce, and wraps the content key for each recipient with
// HPKE (RFC 9180, base mode, crypto/hpke): one encapsulation and one
// single-shot Seal of the 32-byte key per recipient, so a photo is
// encrypted once whatever the number of daemons.
//
// The job's associated data (ClearFields.AAD) is a fixed-order,
// length-prefixed byte string of the clear fields, never re-serialised
// JSON. It is bound twice: it is the AES-GCM additional data of the
// content, and its SHA-256 is part of the HPKE info of every key wrap
// (WrapInfo; the HPKE aad is empty, so single-shot HPKE APIs work). A
// sealed part moved to another job, site, pool or card does not open
// (ErrBinding).
//
// Suites: KEM MLKEM768-X25519 (X-Wing, 0x647a, the default) or
// DHKEM(X25519, HKDF-SHA256) (0x0020); KDF HKDF-SHA256 (0x0001); AEAD
// AES-256-GCM (0x0002), for the wrap and for the content. AES-256-GCM was
// chosen over ChaCha20-Poly1305 because the standard library has it
// without golang.org/x/crypto, it is hardware-accelerated on the daemons'
// x86-64 and arm64 machines, and every enrollment platform has it.
//
// The sealing is anonymous (HPKE base mode): it proves nothing about who
// sealed. Authenticity comes from the approval signature over the exact
// job body bytes, which include the sealed part; verify it first.
//
// # Errors
//
// Open reports ErrKeyGone when none of the recipients' keys is held any
// more (destroyed, or never this daemon's): enrollment should seal the job
// again to the current keys and re-submit. ErrBinding means a recipient key
// was found but the part does not open with this job's clear fields: moved
// from another job or altered. A malformed part is a *FormatError naming
// the field and the rule. No error ever carries personal data.
//
// # Wiping
//
// Seal and Open overwrite with zeros the plaintext and content-key buffers
// they own once they are done with them, and Person.Wipe zeroes the photo.
// Go cannot promise more: Name, DOB and Gender are immutable strings that
// stay in memory until the garbage collector reuses it; the collector may
// have copied nothing here but the runtime gives no guarantee; HPKE and
// AES-GCM keep their own key schedules, which are not zeroed. The
// durable protection is crypto-shredding: once the epoch private key is
// destroyed, every stored or recorded copy of the sealed part is
// unreadable.
package seal
