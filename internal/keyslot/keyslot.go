// Package keyslot computes Redis Cluster key slots: the CRC16/XMODEM of a
// key's hash tag, mod 16384. protocol.KeySlot and store.KeySlot are this
// one function; it runs for every key of every command (routing, the
// store's per-slot index), so it is written for speed.
//
// The checksum is table-driven, eight bytes per step ("slicing by 8"): a
// byte at a time, each step waits for the previous one's table load, and
// the slot took 28 ns for a 13-byte key, 120 ns for a 40-byte one, and
// 11.5 % of the server's CPU under redis-benchmark's 10-key MSET (perf,
// stop 40). Eight tables let a step's eight loads run at once: 15 ns and
// 35 ns (BenchmarkOf).
package keyslot

import (
	"bytes"
	"encoding/binary"
)

// Slots is the number of hash slots of a Redis cluster.
const Slots = 16384

// tables[k][x] is the CRC of byte x followed by k zero bytes, from a zero
// state: tables[0] is the usual byte-at-a-time table.
var tables = func() (t [8][256]uint16) {
	for i := range 256 {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[0][i] = c
	}
	for k := 1; k < 8; k++ {
		for i := range 256 {
			c := t[k-1][i]
			t[k][i] = c<<8 ^ t[0][c>>8]
		}
	}
	return t
}()

// CRC16 returns the CRC16/XMODEM checksum of b (polynomial 0x1021,
// initial value 0), the one Redis Cluster uses: CRC16("123456789") ==
// 0x31C3.
func CRC16(b []byte) uint16 {
	var c uint16
	t := &tables
	for len(b) >= 8 {
		// The state's two bytes fold into the first two data bytes; the
		// eight bytes then contribute independently (the CRC is linear).
		v := binary.BigEndian.Uint64(b)
		hi := byte(v>>56) ^ byte(c>>8)
		lo := byte(v>>48) ^ byte(c)
		c = t[7][hi] ^ t[6][lo] ^ t[5][byte(v>>40)] ^ t[4][byte(v>>32)] ^
			t[3][byte(v>>24)] ^ t[2][byte(v>>16)] ^ t[1][byte(v>>8)] ^ t[0][byte(v)]
		b = b[8:]
	}
	if len(b) >= 4 {
		v := binary.BigEndian.Uint32(b)
		c = t[3][byte(v>>24)^byte(c>>8)] ^ t[2][byte(v>>16)^byte(c)] ^ t[1][byte(v>>8)] ^ t[0][byte(v)]
		b = b[4:]
	}
	if len(b) >= 2 {
		c = t[1][b[0]^byte(c>>8)] ^ t[0][b[1]^byte(c)]
		b = b[2:]
	}
	if len(b) == 1 {
		c = c<<8 ^ t[0][byte(c>>8)^b[0]]
	}
	return c
}

// HashTag returns the part of key that Of hashes: the bytes between the
// first '{' and the first '}' after it when that span is not empty, else
// the whole key. The result aliases key.
func HashTag(key []byte) []byte {
	s := -1
	if len(key) <= 16 { // a loop beats IndexByte's call on short keys
		for i, c := range key {
			if c == '{' {
				s = i
				break
			}
		}
	} else {
		s = bytes.IndexByte(key, '{')
	}
	if s < 0 {
		return key
	}
	e := bytes.IndexByte(key[s+1:], '}')
	if e <= 0 { // no '}', or "{}": the whole key
		return key
	}
	return key[s+1 : s+1+e]
}

// Of returns the cluster slot of key, in [0, Slots): the CRC16 of its
// hash tag (HashTag) mod Slots, so "{user1000}.following" and
// "{user1000}.followers" share a slot.
func Of(key []byte) int { return int(CRC16(HashTag(key))) & (Slots - 1) }
