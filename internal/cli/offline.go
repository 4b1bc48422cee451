package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/client"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/journal"
	"github.com/respawn-sh/respawn/internal/logs"
)

// When no supervisor runs (after `down`, after a crash), `logs` and `events`
// read what the last one left in the state dir, as journalctl reads the
// journal whether or not the daemon runs, and say so.

// errNothingLeft: no supervisor runs and none left files to read.
var errNothingLeft = errors.New("no supervisor is running, and none left files to read")

// sinceTime turns a checked --since value into a time; zero for none.
func sinceTime(v string, now time.Time) time.Time {
	if v == "" {
		return time.Time{}
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d)
	}
	t, _ := time.Parse(time.RFC3339Nano, v) // checked by checkSince
	return t
}

// offlineNote tells, on stderr, where the lines come from.
func offlineNote(w io.Writer, what, where string) {
	fmt.Fprintf(w, "respawn: no supervisor is running; showing the %s it left in %s\n", what, where)
}

// offlineServices selects the services names address (all for none): a
// name, a replicated service's name for all its instances, or @GROUP.
func offlineServices(cfg *config.Config, names []string) ([]*config.Service, error) {
	if len(names) == 0 {
		return cfg.Services, nil
	}
	var out []*config.Service
	for _, n := range names {
		found := false
		for _, s := range cfg.Services {
			if s.Name == n || s.ReplicaOf == n || (s.ServiceGroup != "" && "@"+s.ServiceGroup == n) {
				found = true
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
		if !found {
			msg := "unknown service: " + n
			if s := config.Suggest(n, knownNames(cfg)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, exitErr(ExitUsage, errors.New(msg))
		}
	}
	return out, nil
}

// offlineLogs reads the log files of the selected services, merged in time
// order, the last n of them (all for n <= 0) since since.
func offlineLogs(cfg *config.Config, names []string, since time.Time, n int) ([]api.LogLine, error) {
	dir := config.LogsDir(cfg.Supervisor.StateDir)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, exitErr(ExitNotRunning, fmt.Errorf("%w (no %s)", errNothingLeft, dir))
	}
	list, err := offlineServices(cfg, names)
	if err != nil {
		return nil, err
	}
	var out []api.LogLine
	for _, s := range list {
		lines, err := logs.ReadFile(config.LogPath(cfg.Supervisor.StateDir, s.Name), since, n)
		if err != nil {
			return nil, exitErr(ExitFailed, err)
		}
		for _, l := range lines {
			out = append(out, api.LogLine{Time: l.Time, Service: s.Name, Stream: l.Stream.String(), Line: l.Text})
		}
	}
	slices.SortStableFunc(out, func(a, b api.LogLine) int { return a.Time.Compare(b.Time) })
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// offlineEvents emits the events of the journal the last supervisor left,
// after a note on stderr that says where they come from.
func offlineEvents(ctx context.Context, cfg *config.Config, note io.Writer, since time.Time, n int, emit func(api.Event) error) error {
	path := filepath.Join(cfg.Supervisor.StateDir, journal.FileName)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return exitErr(ExitNotRunning, fmt.Errorf("%w (no %s)", errNothingLeft, path))
	}
	offlineNote(note, "event journal", path)
	if err := journal.ReadFile(ctx, path, since, n, emit); err != nil {
		return exitErr(ExitFailed, err)
	}
	return nil
}

// notRunning reports whether err says no supervisor answers.
func notRunning(err error) bool { return errors.Is(err, client.ErrNotRunning) }

// knownNames are the names a command may give: services, replicated
// services and @groups.
func knownNames(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Services {
		out = append(out, s.Name)
		if s.ReplicaOf != "" && !slices.Contains(out, s.ReplicaOf) {
			out = append(out, s.ReplicaOf)
		}
		if g := s.ServiceGroup; g != "" && !slices.Contains(out, "@"+g) {
			out = append(out, "@"+g)
		}
	}
	return out
}
