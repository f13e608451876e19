package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyRepoParts copies files and directories (paths relative to the
// repository root) into a temporary root and returns it.
func copyRepoParts(t *testing.T, parts ...string) string {
	t.Helper()
	dst := t.TempDir()
	for _, p := range parts {
		err := filepath.Walk(filepath.Join(Root, p), func(path string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(Root, path)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, fi.Mode().Perm())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// anyContains reports whether one of errs mentions s.
func anyContains(errs []error, s string) bool {
	for _, err := range errs {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}
