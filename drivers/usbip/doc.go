// Package usbip is the device side of USB/IP (the protocol of Linux's
// usbip-host and vhci-hcd): it presents a USB printer-class device
// (interface 7/1/2 with a bulk OUT and a bulk IN endpoint) whose bulk
// endpoints carry a byte stream, so that a simulated printer (drivers/sim)
// appears to a Linux kernel as a real USB printer.
//
// A Device answers endpoint 0 (GET_DESCRIPTOR for the device, configuration
// and string descriptors, SET_CONFIGURATION, GET_STATUS, SET_INTERFACE, and
// the printer class requests GET_DEVICE_ID, GET_PORT_STATUS and
// SOFT_RESET), feeds bulk OUT data to Stream, keeps bulk IN requests pending
// until bytes are written to Stream, answers CMD_UNLINK with -ECONNRESET,
// and can be unplugged and plugged in again on command.
//
// Two ways to attach it:
//   - AttachVHCI, on the same Linux machine: a socketpair whose one end is
//     handed to /sys/devices/platform/vhci_hcd.0/attach (needs root and the
//     vhci-hcd module; no network).
//   - Serve, a TCP server answering OP_REQ_DEVLIST and OP_REQ_IMPORT, so
//     that Linux's own tools work: usbip list -r 127.0.0.1,
//     usbip attach -r 127.0.0.1 -b 1-1.
//
// Sources: the Linux kernel's Documentation/usb/usbip_protocol.rst and
// drivers/usb/usbip (usbip_common.h, vhci_rx.c, vhci_sysfs.c), USB 2.0
// chapter 9, USB Device Class Definition for Printing Devices 1.1.
// All USB/IP fields are big-endian; USB descriptors are little-endian.
package usbip
