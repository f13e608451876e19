//go:build !linux

package store

// threadCPU: no per-thread CPU time here.
func threadCPU() int64 { return -1 }
