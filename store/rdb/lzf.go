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
