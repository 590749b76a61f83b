// Package debtest tests the Debian package that scripts/package.sh builds:
// reproducible bytes, its files, owners and modes (dpkg-deb), the
// Prometheus rules (Debian's promtool) and the Grafana dashboard, and, in
// a QEMU guest running Debian's kernel with a debootstrapped Debian
// userland and systemd as init, the package installed, configured,
// started, killed, upgraded, removed and purged as an administrator would
// (testdata/debvm.sh). See README.md here for what it needs and costs.
package debtest
