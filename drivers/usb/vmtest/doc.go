// Package vmtest tests the USB transport (drivers/usb) and the Evolis
// driver through a real Linux USB stack: it boots Debian's own kernel under
// QEMU (software emulation), loads usbcore, vhci-hcd and usblp, attaches a
// simulated printer (drivers/sim behind drivers/usbip) to vhci-hcd from
// inside the guest, and runs the real gousb/libusb code against it.
//
// TestUSBVM, on the host, builds everything and boots the VM; the tests
// that run inside the guest are in guest_test.go, built only with the tag
// usbvmguest. See README.md for what it needs and how long it takes.
package vmtest
