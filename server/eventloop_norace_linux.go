//go:build linux && !race

package server

// loopRawSyscalls: see eventloop_sys_linux.go.
const loopRawSyscalls = true
