// Package job is the card-job contract: the JSON body an enrollment
// system publishes, its validation rules, and the approval signature that
// proves the enrollment system approved it.
//
// Contract v2 (docs/job-contract-v2.md) is what travels: an Envelope with
// the clear fields and the person sealed (queue/seal) to the site's
// daemons; ParseEnvelope checks it without opening anything, OpenAt opens
// it with a daemon's epoch keys and applies the person's rules, Seal makes
// it from a plain card job. The v1 body (Parse, Job) is the plain card
// file that printerd submit, render and encode read, and what a daemon
// accepts on the bus only with accept-v1 during a migration.
//
// It knows nothing of NATS: queue/ moves the bytes, this package judges them.
//
// # Order of trust
//
// A worker first checks the approval over the exact body bytes
// ((*Verifier).Verify, or (*Verifier).ParseAt which verifies and then
// parses), and only then trusts what Parse says about the body.
//
// # Rules
//
// Parse decodes strictly: exactly one JSON object, valid UTF-8, at most
// MaxBody bytes, field names exactly as in the contract (case-sensitive, no
// unknown field, no field twice). It then normalises card.name and
// card.gender to Unicode NFC in place (Normalize) and applies every rule of
// the contract table (ValidateAt). Validate and ValidateAt on a Job built
// in code require name and gender to be NFC already, so a valid Job always
// carries NFC text: the layout prints it and the barcode signs it as is.
//
// "Characters" in length limits are Unicode code points of the NFC form.
// "Printable" means unicode.IsPrint: letters, marks, numbers, punctuation,
// symbols and the ASCII space; control and format characters (including
// bidirectional overrides and zero-width joiners) and other spaces are
// refused. Names and genders must not start or end with a space.
//
// Printable text must also print what it says (checkVisible): it must hold
// at least one character that prints ink (not only spaces, variation
// selectors, the combining grapheme joiner or other default-ignorable code
// points), no blank filler (Hangul fillers U+115F, U+1160, U+3164, U+FFA0
// and the Braille blank U+2800, which unicode.IsPrint calls letters and
// symbols) and no U+FFFD: encoding/json turns a lone surrogate escaped in
// the JSON ("\ud800") into U+FFFD, and either means the text was damaged
// before it was sent.
//
// Dates: card.dob is from 1900-01-01 on (year 0 is a default value, not
// a date) and card.issued from 1970-01-01 on (the signed code's dates are
// CWT NumericDates); card.dob is not after card.issued; card.issued is at most 31
// days after today (UTC+14); card.expires is not before card.issued and
// not before today in UTC-12, so no card is printed already expired
// everywhere. These rules make explicit what the v1 table's "a real date"
// and "printable" mean for a card; they refuse only values that would print
// a blank, damaged or already invalid card.
//
// A birth date is "in the future" when it is after today's date in the
// earliest time zone on Earth (UTC+14), so no one born today anywhere is
// refused.
//
// The photo is checked cheaply first: at most MaxPhotoBase64 bytes of
// standard base64 (padding, no line breaks), JPEG or PNG by magic bytes,
// width and height at most MaxPhotoSide from the image header, and only then
// fully decoded so that a damaged image is refused before a card is fed.
//
// # Personal data
//
// Errors are *FieldError values naming the JSON path and the rule, never a
// value. Job and Card format (fmt, any verb), GoString and log (slog) as
// the job id, kind, card number, issue and template only; name, birth date,
// gender and photo never appear. encoding/json still marshals everything:
// that is the body, and it goes only to the printer path and CARD_HELD.
package job
