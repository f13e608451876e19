package rdb

// lzfDecompress expands LZF data (liblzf's format, which Redis uses for
// compressed RDB strings) into a new slice of exactly n bytes. It fails on
// any malformed input rather than reading or writing out of bounds.
//
// A control byte below 32 starts a literal run of ctrl+1 bytes; otherwise its
// top three bits are a match length (7 means an extra length byte follows),
// and its low five bits with the next byte are a back-reference distance.
func lzfDecompress(in []byte, n int) ([]byte, bool) {
	out := make([]byte, 0, n)
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 {
			run := ctrl + 1
			if i+run > len(in) || len(out)+run > n {
				return nil, false
			}
			out = append(out, in[i:i+run]...)
			i += run
			continue
		}
		length := ctrl >> 5
		if length == 7 {
			if i >= len(in) {
				return nil, false
			}
			length += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, false
		}
		ref := len(out) - (ctrl&0x1f)<<8 - int(in[i]) - 1
		i++
		length += 2
		if ref < 0 || len(out)+length > n {
			return nil, false
		}
		for k := range length { // byte by byte: the source may overlap the output
			out = append(out, out[ref+k])
		}
	}
	if len(out) != n {
		return nil, false
	}
	return out, true
}

// lzfMaxRatio bounds how much LZF can expand: a 3-byte back-reference
// yields at most 264 bytes. A declared length beyond ratio × input is
// malformed, so decoding never allocates more than that for hostile input.
const lzfMaxRatio = 88

// lzfHashBits sizes the compressor's table of recent 3-byte sequences.
const lzfHashBits = 13

// lzfCompress appends in, LZF compressed, to dst if that takes at most max
// bytes; ok is false otherwise (dst then holds garbage past its length).
// It finds matches through a table of the last position of each 3-byte
// hash, as liblzf does, though not its exact choices.
func lzfCompress(dst, in []byte, max int) ([]byte, bool) {
	var table [1 << lzfHashBits]int32 // position+1 of the last sequence with this hash
	start := len(dst)
	lit := 0 // first byte not yet written
	flush := func(end int) {
		for lit < end {
			run := min(end-lit, 32)
			dst = append(dst, byte(run-1))
			dst = append(dst, in[lit:lit+run]...)
			lit += run
		}
	}
	for i := 0; i+2 < len(in) && len(dst)-start <= max; {
		h := (uint32(in[i])<<16 | uint32(in[i+1])<<8 | uint32(in[i+2])) * 2654435761 >> (32 - lzfHashBits)
		ref := int(table[h]) - 1
		table[h] = int32(i + 1)
		off := i - ref - 1
		if ref < 0 || off >= 1<<13 || in[ref] != in[i] || in[ref+1] != in[i+1] || in[ref+2] != in[i+2] {
			i++
			continue
		}
		l, most := 3, min(len(in)-i, 264)
		for l < most && in[ref+l] == in[i+l] {
			l++
		}
		flush(i)
		if n := l - 2; n < 7 {
			dst = append(dst, byte(n<<5|off>>8), byte(off))
		} else {
			dst = append(dst, byte(7<<5|off>>8), byte(n-7), byte(off))
		}
		i += l
		lit = i
	}
	flush(len(in))
	return dst, len(dst)-start <= max
}
