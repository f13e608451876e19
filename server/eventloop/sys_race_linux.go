//go:build linux && race

package eventloop

// loopRawSyscalls: see sys_linux.go; the race detector wants
// package syscall's annotations.
const loopRawSyscalls = false
