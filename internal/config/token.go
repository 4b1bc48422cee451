package config

import (
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/respawn-sh/respawn/internal/bearer"
)

// checkTokenFile refuses a token file whose token is too weak. A file that
// cannot be read is not an error here: commands other than up load the
// config too, often as a user who may not read the token, and up reads the
// file itself (bearer.Read) and refuses it with the reason.
func (d *decoder) checkTokenFile(v *yaml.Node, p, path string) {
	// Looked at before it is opened: opening a FIFO would block the load.
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, bearer.MaxLen+1))
	if err != nil || len(data) > bearer.MaxLen {
		return
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		d.errorf(resolve(v), "%s: %s is empty; make a token with: %s", p, path, bearer.Recipe(path))
		return
	}
	if why := bearer.Problem(tok); why != "" {
		d.errorf(resolve(v), "%s: %s is too easy to guess: %s; make one with: %s", p, path, why, bearer.Recipe(path))
	}
}
