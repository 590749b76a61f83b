// Package chipe2e holds the end-to-end tests of chip encoding through the
// real PC/SC stack (pcscd and vsmartcard's vpcd): the signed credential made
// by layout/credential is written by drivers/pcsc onto a virtual chip
// (drivers/chip/vchip), read back and verified.
//
// The tests live here, not in drivers/pcsc, because they need both layout
// (the credential) and drivers (the encoder), which never import each other.
package chipe2e
