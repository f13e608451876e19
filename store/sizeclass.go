package store

// sizeClasses are the Go runtime's small-object size classes (bytes).
var sizeClasses = [...]uint32{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
	2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// classUp8[(n+7)/8] is the size class of n <= 1024 bytes and
// classUp128[(n-1024+127)/128] that of 1024 < n <= 32768 (every class above
// 1024 is a multiple of 128), as the Go runtime's own lookup tables.
var classUp8, classUp128 = func() (a [1024/8 + 1]uint16, b [(32768-1024)/128 + 1]uint16) {
	for i := range a {
		a[i] = uint16(searchClass(uint64(i * 8)))
	}
	for i := range b {
		b[i] = uint16(searchClass(uint64(1024 + i*128)))
	}
	return a, b
}()

// searchClass returns the smallest size class of at least n <= 32768 bytes.
func searchClass(n uint64) uint32 {
	lo, hi := 0, len(sizeClasses)-1
	for lo < hi {
		m := (lo + hi) / 2
		if uint64(sizeClasses[m]) >= n {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return sizeClasses[lo]
}

// roundSize returns the size the Go allocator really gives for n bytes.
func roundSize(n uint64) uint64 {
	switch {
	case n <= 1024:
		return uint64(classUp8[(n+7)>>3])
	case n <= 32768:
		return uint64(classUp128[(n-1024+127)>>7])
	}
	return (n + 8191) &^ 8191
}
