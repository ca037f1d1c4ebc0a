package stack

import (
	"os"
	"path/filepath"
)

// fileExists reports whether path is a regular file.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// DashboardBuilt reports whether the gateway serves the web dashboard
// (dashboard/dist was built before the stack started).
func (s *Stack) DashboardBuilt() bool {
	return fileExists(filepath.Join(s.cfg.RepoRoot, "dashboard", "dist", "index.html"))
}
