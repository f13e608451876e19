//go:build linux && race

package server

// loopRawSyscalls: see eventloop_sys_linux.go; the race detector wants
// package syscall's annotations.
const loopRawSyscalls = false
