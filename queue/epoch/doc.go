// Package epoch keeps a printing daemon's epoch keys: the HPKE key pairs
// enrollment systems seal jobs to (queue/seal), one per epoch (a day by
// default), made by the daemon for itself and destroyed once every job
// sealed to them must have been printed or expired (crypto-shredding).
//
// # Keys on disk
//
// A Store keeps the private halves in one directory (mode 0700), one file
// per epoch named <epoch id>.key (mode 0600): a PEM block of type
// "PRINTERD EPOCH KEY" whose bytes are the RFC 9180 SerializePrivateKey
// output and whose headers give the KEM id and the epoch's start and end.
// A file is written under a temporary name, synced and then hard-linked to
// its final name, so a key is either whole or absent and two processes
// never make two keys for one epoch. No private key leaves the directory.
//
// Epochs are aligned: an epoch of length Period starts at a whole multiple
// of Period since 1970-01-01T00:00:00Z (UTC midnight for a day). Its id is
// its start time as 20061102T150405Z.
//
// Destroying a key overwrites the file's bytes in place with random bytes,
// syncs it, removes it and syncs the directory. That reaches the disk
// blocks on ordinary file systems (ext4, xfs) on a disk that writes in
// place; on copy-on-write or log-structured file systems (btrfs, zfs,
// f2fs), in snapshots and on flash with wear levelling the old blocks may
// survive, so put the state directory on an encrypted volume too. The
// store also keeps no key material in memory beyond a single call.
//
// # Announcements
//
// The daemon publishes each epoch public key as an Announcement signed
// with its long-term Ed25519 key (Signer), in the JetStream KV bucket
// Bucket under <site>.<daemon kid>.<epoch id>. Enrollment systems pin the
// long-term public keys of their site's daemons and call Recipients, which
// fetches, verifies and picks each daemon's current key. The signature
// input is defined in docs/sealed-jobs.md.
package epoch
