package daemon

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// consoleHandler writes records in config.FormatConsole.
type consoleHandler struct {
	mu    *sync.Mutex // guards w: one line at a time, shared by the handlers derived from one
	w     io.Writer
	level slog.Leveler
	attrs []slog.Attr // from WithAttrs, keys already prefixed with their groups
	group string      // the open group's prefix, "g." or ""
}

func newConsoleHandler(w io.Writer, level slog.Leveler) *consoleHandler {
	return &consoleHandler{mu: &sync.Mutex{}, w: w, level: level}
}

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *consoleHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), prefixed(h.group, as)...)
	return &c
}

func (h *consoleHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group = h.group + name + "."
	return &c
}

func prefixed(group string, as []slog.Attr) []slog.Attr {
	if group == "" {
		return as
	}
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Attr{Key: group + a.Key, Value: a.Value}
	}
	return out
}

// consoleSkip are the attributes left out: the core's pid is on every line
// of the core and says nothing to a person watching.
var consoleSkip = map[string]bool{"core": true}

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]slog.Attr(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, prefixed(h.group, []slog.Attr{a})...)
		return true
	})
	var b strings.Builder
	b.WriteString("respawn: ")
	if r.Level >= slog.LevelWarn {
		b.WriteString(r.Level.String())
		b.WriteByte(' ')
	}
	rest := attrs
	if st, ok := stateLine(r.Message, attrs); ok {
		b.WriteString(st.text)
		rest = st.rest
	} else {
		b.WriteString(r.Message)
	}
	for _, a := range rest {
		a.Value = a.Value.Resolve()
		if consoleSkip[a.Key] || a.Equal(slog.Attr{}) {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(quoteIfNeeded(a.Value.String()))
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// state is a state change written for a person.
type state struct {
	text string
	rest []slog.Attr
}

// stateLine writes a service's state change as "NAME FROM → TO: REASON",
// keeping the attributes that say more (a pid; the exit code or signal when
// no reason says it); the generation, the event's name and the retry time
// are left to `respawn events`.
func stateLine(msg string, attrs []slog.Attr) (state, bool) {
	if msg != "state" {
		return state{}, false
	}
	var svc, from, to, reason string
	var rest []slog.Attr
	for _, a := range attrs {
		switch a.Key {
		case "service":
			svc = a.Value.String()
		case "from":
			from = a.Value.String()
		case "to":
			to = a.Value.String()
		case "reason":
			reason = a.Value.String()
		case "gen", "event", "next_retry", "kill_at":
		default:
			rest = append(rest, a)
		}
	}
	if svc == "" || to == "" {
		return state{}, false
	}
	if reason != "" {
		// The reason says how it exited already.
		rest = slices.DeleteFunc(rest, func(a slog.Attr) bool { return a.Key == "exit_code" || a.Key == "signal" })
	}
	text := svc + " " + from + " → " + to
	if reason != "" {
		text += ": " + reason
	}
	return state{text: text, rest: rest}, true
}

// quoteIfNeeded quotes a value with spaces, quotes or control characters,
// as slog's text format does.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if unicode.IsSpace(r) || r == '"' || r == '=' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
