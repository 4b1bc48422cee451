package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// defaultLogLines is how many past lines `respawn logs` shows unless told otherwise.
const defaultLogLines = 50

func (g *globals) logsCmd() *cobra.Command {
	var (
		output string
		follow bool
		since  string
		n      int
		stamps bool
	)
	cmd := &cobra.Command{
		Use:   "logs [NAME...]",
		Short: "show the captured output of services, merged in time order",
		Long: "logs prints what services wrote to stdout and stderr, oldest first, every line\n" +
			"prefixed with its service's name: \"name | line\" for stdout, \"name ! line\" for stderr.\n" +
			"With no NAME it shows every service. It shows the last 50 lines unless -n says\n" +
			"otherwise (-n 0: all) or --since is given (then every line since). -f keeps printing\n" +
			"new lines as they are written, across log rotation and restarts, until interrupted.\n" +
			"On a terminal the prefix is coloured, one colour per service, unless NO_COLOR is set.\n" +
			"-t puts the time each line was captured first (RFC 3339, milliseconds, local time).",
		RunE: func(cmd *cobra.Command, names []string) error {
			if err := checkStreamFlags(output, since, n); err != nil {
				return err
			}
			if since != "" && !cmd.Flags().Changed("lines") {
				n = 0
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			w := bufio.NewWriter(out)
			colour := isTerminal(out) && g.env.Getenv("NO_COLOR") == ""
			printer := func(shown []string) func(api.LogLine) error {
				if output == "json" {
					enc := json.NewEncoder(w)
					return func(l api.LogLine) error { return enc.Encode(l) }
				}
				p := newLogPrinter(w, shown, colour)
				p.stamps = stamps
				return p.print
			}
			// The prefix width and colours need every name to be shown up front.
			shown := names
			if len(shown) == 0 && output != "json" {
				st, err := c.Overview(ctx)
				if notRunning(err) {
					return g.logsOffline(cmd, names, since, n, follow, w, printer)
				}
				if err != nil {
					return apiErr(err)
				}
				for _, s := range st.Services {
					shown = append(shown, s.Name)
				}
			}
			print := printer(shown)
			err = c.Logs(ctx, names, n, since, follow, func(l api.LogLine) error {
				if err := print(l); err != nil {
					return err
				}
				return flushIf(follow, w)
			})
			if notRunning(err) {
				return g.logsOffline(cmd, names, since, n, follow, w, printer)
			}
			return endStream(ctx, w, follow, err)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json (one object per line)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	cmd.Flags().StringVar(&since, "since", "", "only lines from this long ago (10m, 2h) or since this RFC 3339 time")
	cmd.Flags().IntVarP(&n, "lines", "n", defaultLogLines, "only the last N lines (0: all)")
	cmd.Flags().BoolVarP(&stamps, "timestamps", "t", false, "show when each line was captured")
	return cmd
}

// logsOffline prints what the log files in the state dir hold, when no
// supervisor runs; there is nothing to follow then.
func (g *globals) logsOffline(cmd *cobra.Command, names []string, since string, n int, follow bool,
	w *bufio.Writer, printer func([]string) func(api.LogLine) error) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if follow {
		return exitErr(ExitNotRunning, errors.New("no supervisor is running, so there is nothing to follow; without -f, logs shows the files it left"))
	}
	lines, err := offlineLogs(cfg, names, sinceTime(since, time.Now()), n)
	if err != nil {
		return err
	}
	list, _ := offlineServices(cfg, names)
	shown := make([]string, len(list))
	for i, s := range list {
		shown[i] = s.Name
	}
	offlineNote(cmd.ErrOrStderr(), "log files", config.LogsDir(cfg.Supervisor.StateDir))
	print := printer(shown)
	for _, l := range lines {
		if err := print(l); err != nil {
			return exitErr(ExitFailed, err)
		}
	}
	if err := w.Flush(); err != nil {
		return exitErr(ExitFailed, err)
	}
	return nil
}

// logColours are ANSI foreground colours for service prefixes: no red, which reads as an
// error, and no black or white, which vanish on some backgrounds.
var logColours = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// logPrinter writes lines as "name | text", names padded to a common width.
type logPrinter struct {
	w      io.Writer
	width  int
	colour map[string]string // service → its colour; nil when not colouring
	stamps bool              // each line starts with its capture time
}

// stampLayout is RFC 3339 with milliseconds: lines a few microseconds
// apart stay in order at a glance, and the width is fixed.
const stampLayout = "2006-01-02T15:04:05.000Z07:00"

func newLogPrinter(w io.Writer, names []string, colour bool) *logPrinter {
	p := &logPrinter{w: w}
	for _, n := range names {
		p.width = max(p.width, len(n))
	}
	if colour {
		p.colour = make(map[string]string, len(names))
		for i, n := range names {
			if _, ok := p.colour[n]; !ok {
				p.colour[n] = logColours[i%len(logColours)]
			}
		}
	}
	return p
}

func (p *logPrinter) print(l api.LogLine) error {
	sep := "|"
	if l.Stream == "stderr" {
		sep = "!"
	}
	if p.stamps {
		if _, err := io.WriteString(p.w, l.Time.Local().Format(stampLayout)+" "); err != nil {
			return err
		}
	}
	var err error
	if c, ok := p.colour[l.Service]; ok {
		_, err = fmt.Fprintf(p.w, "\x1b[%sm%-*s %s\x1b[0m %s\n", c, p.width, l.Service, sep, l.Line)
	} else {
		_, err = fmt.Fprintf(p.w, "%-*s %s %s\n", p.width, l.Service, sep, l.Line)
	}
	return err
}
