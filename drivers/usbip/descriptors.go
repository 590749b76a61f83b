package usbip

import (
	"encoding/binary"
	"unicode/utf16"
)

// Config describes the USB device a Device presents. Zero values take the
// defaults shown.
type Config struct {
	VendorID     uint16 // default 0x0f49 (Evolis)
	ProductID    uint16 // default 0x1234
	Manufacturer string // default "Evolis"
	Product      string // default "Primacy 2 (simulated)"
	Serial       string // default "SIM0001"; empty strings are never sent
	// BusID is the id usbip lists and imports, default "1-1".
	BusID string
	// BusNum and DevNum make the USB/IP devid (busnum<<16 | devnum);
	// defaults 1 and 2.
	BusNum, DevNum uint32
	// Unidirectional presents interface protocol 1 with no bulk IN
	// endpoint instead of protocol 2 (bidirectional).
	Unidirectional bool
}

func (c Config) withDefaults() Config {
	if c.VendorID == 0 {
		c.VendorID = 0x0f49
	}
	if c.ProductID == 0 {
		c.ProductID = 0x1234
	}
	if c.Manufacturer == "" {
		c.Manufacturer = "Evolis"
	}
	if c.Product == "" {
		c.Product = "Primacy 2 (simulated)"
	}
	if c.Serial == "" {
		c.Serial = "SIM0001"
	}
	if c.BusID == "" {
		c.BusID = "1-1"
	}
	if c.BusNum == 0 {
		c.BusNum = 1
	}
	if c.DevNum == 0 {
		c.DevNum = 2
	}
	return c
}

// devid is the USB/IP device id.
func (c Config) devid() uint32 { return c.BusNum<<16 | c.DevNum }

// Endpoints and sizes.
const (
	epOut         = 1
	epIn          = 2
	maxPacket     = 512 // high-speed bulk
	maxPacket0    = 64
	configValue   = 1
	speedHigh     = 3 // enum usb_device_speed USB_SPEED_HIGH
	classPrinter  = 7
	subclassPrint = 1
)

// Descriptor types.
const (
	dtDevice    = 1
	dtConfig    = 2
	dtString    = 3
	dtInterface = 4
	dtEndpoint  = 5
)

func (c Config) protocol() uint8 {
	if c.Unidirectional {
		return 1
	}
	return 2
}

func (c Config) numEndpoints() uint8 {
	if c.Unidirectional {
		return 1
	}
	return 2
}

// deviceDescriptor is the 18-byte device descriptor.
func (c Config) deviceDescriptor() []byte {
	b := []byte{18, dtDevice, 0x00, 0x02, 0, 0, 0, maxPacket0, 0, 0, 0, 0, 0x00, 0x01, 1, 2, 3, 1}
	binary.LittleEndian.PutUint16(b[8:], c.VendorID)
	binary.LittleEndian.PutUint16(b[10:], c.ProductID)
	return b
}

// configDescriptor is the configuration descriptor with its interface and
// endpoint descriptors.
func (c Config) configDescriptor() []byte {
	b := []byte{9, dtConfig, 0, 0, 1, configValue, 0, 0xC0, 1}
	b = append(b, 9, dtInterface, 0, 0, c.numEndpoints(), classPrinter, subclassPrint, c.protocol(), 0)
	b = append(b, 7, dtEndpoint, epOut, 0x02, maxPacket&0xff, maxPacket>>8, 0)
	if !c.Unidirectional {
		b = append(b, 7, dtEndpoint, 0x80|epIn, 0x02, maxPacket&0xff, maxPacket>>8, 0)
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// stringDescriptor returns string descriptor i (0 is the language list),
// or nil if there is none.
func (c Config) stringDescriptor(i uint8) []byte {
	var s string
	switch i {
	case 0:
		return []byte{4, dtString, 0x09, 0x04} // en-US
	case 1:
		s = c.Manufacturer
	case 2:
		s = c.Product
	case 3:
		s = c.Serial
	default:
		return nil
	}
	u := utf16.Encode([]rune(s))
	if len(u) > 126 {
		u = u[:126]
	}
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = byte(2+2*len(u)), dtString
	for _, r := range u {
		b = binary.LittleEndian.AppendUint16(b, r)
	}
	return b
}

// usbipDevice is the 312-byte struct usbip_usb_device of OP_REP_DEVLIST
// and OP_REP_IMPORT.
func (c Config) usbipDevice() []byte {
	b := make([]byte, 312)
	copy(b[0:256], "/sys/devices/platform/printerd-sim/usb1/"+c.BusID)
	copy(b[256:288], c.BusID)
	be := binary.BigEndian
	be.PutUint32(b[288:], c.BusNum)
	be.PutUint32(b[292:], c.DevNum)
	be.PutUint32(b[296:], speedHigh)
	be.PutUint16(b[300:], c.VendorID)
	be.PutUint16(b[302:], c.ProductID)
	be.PutUint16(b[304:], 0x0100)
	b[306], b[307], b[308] = 0, 0, 0 // class per interface
	b[309] = configValue
	b[310] = 1 // configurations
	b[311] = 1 // interfaces
	return b
}

// usbipInterface is the 4-byte struct usbip_usb_interface.
func (c Config) usbipInterface() []byte {
	return []byte{classPrinter, subclassPrint, c.protocol(), 0}
}
