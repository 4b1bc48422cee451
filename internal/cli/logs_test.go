package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

func logsFixture(t *testing.T, queries *[]string) string {
	return eventsFixture(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case api.PathStatus:
			json.NewEncoder(w).Encode(api.Status{Services: []api.Service{{Name: "a"}, {Name: "longname"}}})
		case api.PathLogs:
			*queries = append(*queries, r.URL.RawQuery)
			if r.URL.Query().Get("name") == "nope" {
				w.WriteHeader(404)
				fmt.Fprintln(w, `{"error":{"code":"unknown_service","message":"unknown service: nope"}}`)
				return
			}
			fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","service":"a","stream":"stdout","line":"hello"}`)
			fmt.Fprintln(w, `{"time":"2024-05-01T12:00:01Z","service":"longname","stream":"stderr","line":"oops"}`)
		default:
			http.NotFound(w, r)
		}
	})
}

func TestLogsCommand(t *testing.T) {
	var queries []string
	cfg := logsFixture(t, &queries)

	out, errs, code := runEventsCLI("logs", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "a        | hello\nlongname ! oops\n"; out != want {
		t.Errorf("table:\n%q\nwant\n%q", out, want)
	}
	if queries[0] != "n=50" {
		t.Errorf("default query %q, want the last 50 lines", queries[0])
	}

	out, errs, code = runEventsCLI("logs", "a", "-o", "json", "-n", "0", "-f", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var l api.LogLine
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &l) != nil || l.Service != "longname" || l.Stream != "stderr" || l.Line != "oops" {
		t.Errorf("json: %q", out)
	}
	if q := queries[len(queries)-1]; q != "follow=1&name=a" {
		t.Errorf("query %q", q)
	}

	// -t: the capture time first, in local time.
	out, errs, code = runEventsCLI("logs", "-t", "-c", cfg)
	first := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Local().Format(stampLayout)
	if code != 0 || !strings.HasPrefix(out, first+" a        | hello\n") {
		t.Errorf("logs -t: exit %d %q (%s); want lines starting %q", code, out, errs, first)
	}

	// --since alone means every line since then; with -n, the last N of those.
	runEventsCLI("logs", "--since", "10m", "-c", cfg)
	runEventsCLI("logs", "--since", "10m", "-n", "5", "-c", cfg)
	if got := queries[len(queries)-2:]; got[0] != "since=10m" || got[1] != "n=5&since=10m" {
		t.Errorf("since queries %q", got)
	}
}

func TestLogsCommandErrors(t *testing.T) {
	var queries []string
	cfg := logsFixture(t, &queries)
	for _, args := range [][]string{{"--since", "yesterday"}, {"-n", "-3"}, {"-o", "yaml"}, {"nope"}} {
		if _, errs, code := runEventsCLI(append([]string{"logs", "-c", cfg}, args...)...); code != ExitUsage || errs == "" {
			t.Errorf("%v: exit %d (%q), want %d", args, code, errs, ExitUsage)
		}
	}
	if _, errs, code := runEventsCLI("logs", "-c", eventsFixture(t, nil)); code != ExitNotRunning {
		t.Errorf("no supervisor: exit %d (%s)", code, errs)
	}
}

func TestLogPrinterColours(t *testing.T) {
	var b bytes.Buffer
	p := newLogPrinter(&b, []string{"web", "db"}, true)
	p.print(api.LogLine{Service: "web", Stream: "stdout", Line: "x"})
	p.print(api.LogLine{Service: "db", Stream: "stderr", Line: "y"})
	want := "\x1b[36mweb |\x1b[0m x\n\x1b[33mdb  !\x1b[0m y\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	newLogPrinter(&b, []string{"web"}, false).print(api.LogLine{Service: "web", Stream: "stdout", Line: "x"})
	if b.String() != "web | x\n" {
		t.Errorf("plain: %q", b.String())
	}
}
