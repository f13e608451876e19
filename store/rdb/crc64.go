package rdb

// Redis's CRC-64 ("Jones" polynomial 0xad93d23594c935a9, reflected input
// and output, initial value 0, no final xor), the checksum at the end of a
// DUMP payload. Go's hash/crc64 inverts the register before and after, so
// it cannot compute this variant; this is the plain byte-wise table form.

const jonesReflected = 0x95ac9329ac4bc9b5 // 0xad93d23594c935a9 bit-reversed

var crcTable = makeCRCTable()

func makeCRCTable() *[256]uint64 {
	var t [256]uint64
	for i := range t {
		c := uint64(i)
		for range 8 {
			if c&1 == 1 {
				c = c>>1 ^ jonesReflected
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return &t
}

// crc64 continues crc over b.
func crc64(crc uint64, b []byte) uint64 {
	for _, x := range b {
		crc = crcTable[byte(crc)^x] ^ crc>>8
	}
	return crc
}
