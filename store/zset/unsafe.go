package zset

import "unsafe"

// strBytes views s as bytes without copying; callers must not modify them.
func strBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
