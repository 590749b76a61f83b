// Package transpose transposes 8 x 8 blocks of bytes held in eight uint64
// words, the inner step of rotating a card panel by 90 or 270 degrees (the
// Evolis driver from design to print order, the simulator back).
package transpose

// Bytes8x8 transposes the 8 x 8 byte matrix whose row j is aj, byte k of a
// row being its k-th least significant byte: byte k of row j becomes byte j
// of row k. It works in registers with three rounds of masked swaps.
func Bytes8x8(a0, a1, a2, a3, a4, a5, a6, a7 uint64) (b0, b1, b2, b3, b4, b5, b6, b7 uint64) {
	const m32, m16, m8 = 0x00000000FFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF
	t := (a0>>32 ^ a4) & m32
	a0, a4 = a0^t<<32, a4^t
	t = (a1>>32 ^ a5) & m32
	a1, a5 = a1^t<<32, a5^t
	t = (a2>>32 ^ a6) & m32
	a2, a6 = a2^t<<32, a6^t
	t = (a3>>32 ^ a7) & m32
	a3, a7 = a3^t<<32, a7^t
	t = (a0>>16 ^ a2) & m16
	a0, a2 = a0^t<<16, a2^t
	t = (a1>>16 ^ a3) & m16
	a1, a3 = a1^t<<16, a3^t
	t = (a4>>16 ^ a6) & m16
	a4, a6 = a4^t<<16, a6^t
	t = (a5>>16 ^ a7) & m16
	a5, a7 = a5^t<<16, a7^t
	t = (a0>>8 ^ a1) & m8
	a0, a1 = a0^t<<8, a1^t
	t = (a2>>8 ^ a3) & m8
	a2, a3 = a2^t<<8, a3^t
	t = (a4>>8 ^ a5) & m8
	a4, a5 = a4^t<<8, a5^t
	t = (a6>>8 ^ a7) & m8
	a6, a7 = a6^t<<8, a7^t
	return a0, a1, a2, a3, a4, a5, a6, a7
}
