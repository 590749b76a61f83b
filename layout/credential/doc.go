// Package credential puts the card's signed credential on its chip so that
// only someone holding the card can read it: the same signed bytes as the
// barcode (layout/barcode: the zlib-compressed, CWT-tagged COSE_Sign1 that
// the QR code carries in Base45), encrypted under a key derived from a card
// access number (CAN) printed on the card face, as ICAO's PACE derives its
// key from the printed CAN, in one NFC Forum external-type NDEF record.
//
// A verifier reads the CAN off the card, reads the chip's NDEF message,
// opens it with Decode and checks the signature with barcode.Verify and
// the issuer's public keys, offline. Without the CAN the chip yields
// ciphertext, a random salt and nonce, and the KDF parameters.
//
// # Format (version 1)
//
// docs/chip-credential.md is the full description with a test vector
// (testdata/vector.json). In short, the NDEF message is one record, TNF 4
// (external), type RecordType, no id, whose payload is:
//
//	offset size
//	0      1    version, 0x01
//	1      1    KDF, 0x01 = Argon2id (RFC 9106, version 0x13)
//	2      1    Argon2 passes t
//	3      4    Argon2 memory m in KiB, big-endian
//	7      1    Argon2 lanes p
//	8      16   salt, random per card
//	24     12   nonce, random per card
//	36     n    AES-256-GCM ciphertext and 16-byte tag; the additional
//	            data is bytes 0 to 35
//
// The key is Argon2id(password = the CAN's 12 ASCII digits, salt, t, m, p,
// 32 bytes). The plaintext is a 2-byte big-endian length, the credential,
// and zero bytes up to 512 bytes (or the next multiple of 64 for a longer
// credential), so that every card with a name of up to 256 bytes carries
// a ciphertext of the same length.
//
// # Strength
//
// A CAN of 12 decimal digits has 10^12 values (about 40 bits). Unlike PACE,
// where the chip answers one guess at a time, anyone who copies the chip's
// file can guess offline, so the KDF's cost is what protects the person:
// Argon2id with t=3, m=64 MiB, p=1 takes about 0.16 s on one core of the
// machine the tests run on; trying every CAN takes about 5,000 core-years,
// and a GPU farm (memory-hard: perhaps a thousand guesses a second per
// GPU) some 30 GPU-years. That stops a passing phone and bulk skimming,
// not a determined attacker with one card's file and a large budget. A
// 6-digit CAN (20 bits) would fall in under two days on one core: do not
// shorten it.
package credential
