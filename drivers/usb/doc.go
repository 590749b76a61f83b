// Package usb is the USB transport for printerd: it finds USB printer-class
// devices (interface class 7, subclass 1, protocol 2 bidirectional or 1
// unidirectional), opens them through libusb (github.com/google/gousb),
// detaches the kernel's usblp driver, and carries the printer language over
// the bulk OUT and bulk IN endpoints. It also speaks the printer class
// requests GET_DEVICE_ID, GET_PORT_STATUS and SOFT_RESET, and re-finds a
// device that was unplugged and plugged in again.
//
// Printer URIs (../shared/CLI.md): usb://auto opens the first printer-class
// device; usb://<vid>:<pid>?serial=<serial> opens a given one (vid and pid in
// hex, serial optional).
//
// Every open makes its own libusb context, so a device plugged in after
// the process started is found even where no udev daemon delivers hotplug
// events (containers, the VM test). Conn.Reset sends SOFT_RESET; if the
// printer was unplugged (or refuses the reset) it finds the same printer
// again by vendor, product and serial and reopens it, polling until its
// context ends. Errors are *drivers.Error: BadConfig for a malformed URI
// or when permission is denied on every matching printer (with a udev rule
// hint), Offline when no matching device is there or it cannot be opened
// for another reason (busy, gone), Timeout when a transfer outlived its
// context, Protocol on a stall.
//
// libusb is kept behind a small unexported interface (lib, libContext,
// libDevice, libInterface) so that tests run against a table of fake
// devices, as gousb's own fakelibusb does. The real USB stack is exercised by
// the VM test in drivers/usb/vmtest.
//
// Sources: USB Device Class Definition for Printing Devices 1.1 (class
// requests, wIndex layout), the Linux usblp driver (request encoding), gousb
// v1.1.3 documentation.
package usb
