package bootinstall

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeFile replaces path atomically, so the service manager never reads a
// half-written unit.
func writeFile(path, content string) error { return writeFileMode(path, content, 0o644) }

// writeFileMode is writeFile for a file of the given mode (a script must be
// executable).
func writeFileMode(path, content string, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bootinstall: %w", err)
	}
	f, err := os.CreateTemp(dir, ".respawn-install-*")
	if err != nil {
		return fmt.Errorf("bootinstall: %w", err)
	}
	tmp := f.Name()
	_, werr := f.WriteString(content)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp, mode)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("bootinstall: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("bootinstall: %w", err)
	}
	return nil
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bootinstall: %w", err)
	}
	return nil
}

func stringReader(s string) io.Reader { return strings.NewReader(s) }

// limitedBuffer keeps the first 64 KiB a tool writes to stderr: enough for
// any error message, bounded whatever the tool does.
type limitedBuffer struct{ bytes.Buffer }

const maxToolOutput = 64 << 10

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxToolOutput - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) trimmed() string { return strings.TrimSpace(b.String()) }
