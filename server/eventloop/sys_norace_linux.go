//go:build linux && !race

package eventloop

// loopRawSyscalls: see sys_linux.go.
const loopRawSyscalls = true
