package protocol

// Slots is the number of hash slots in a Redis cluster.
const Slots = 16384

// crc16Table is the CRC16/XMODEM (polynomial 0x1021, initial value 0)
// lookup table, built once at package init.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the CRC16/XMODEM checksum of b, the one Redis Cluster uses
// for key slots: CRC16("123456789") == 0x31C3.
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^c]
	}
	return crc
}

// KeySlot returns the cluster hash slot of key, in [0, Slots). If key holds
// a '{' followed later by a '}' with at least one byte between the first
// '{' and the first '}' after it, only those bytes are hashed (a hash tag),
// so "{user1000}.following" and "{user1000}.followers" share a slot.
// Otherwise, including "{}foo", the whole key is hashed.
func KeySlot(key []byte) int {
	countKeySlot()
	return int(CRC16(HashTag(key))) & (Slots - 1)
}

// HashTag returns the part of key that KeySlot hashes: the bytes between the
// first '{' and the first '}' after it when that span is non-empty, else the
// whole key. The result aliases key.
func HashTag(key []byte) []byte {
	for s := 0; s < len(key); s++ {
		if key[s] != '{' {
			continue
		}
		for e := s + 1; e < len(key); e++ {
			if key[e] == '}' {
				if e == s+1 {
					return key
				}
				return key[s+1 : e]
			}
		}
		return key
	}
	return key
}
