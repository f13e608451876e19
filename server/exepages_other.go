//go:build !linux

package server

// exePages does nothing outside Linux (exepages_linux.go).
type exePages struct{}

func newExePages() *exePages { return &exePages{} }

func (e *exePages) tick() {}
