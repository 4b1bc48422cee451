package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// DecodeStatus reads a status as json.Unmarshal would into a zero Status,
// with the same result and the same errors. The rows of what the server
// writes (the fields of Service, plain strings) are read directly, without
// reflection, which makes a status of hundreds of services several times
// quicker to read; anything else (a field it does not know, a name in
// another case, a malformed answer) is left to json.Unmarshal whole.
func DecodeStatus(data []byte, st *Status) error {
	*st = Status{}
	d := statusDecoder{b: data}
	if d.status(st) {
		return nil
	}
	*st = Status{}
	return json.Unmarshal(data, st)
}

// statusDecoder reads the JSON of one status; each method reports false
// when it meets something it leaves to json.Unmarshal.
type statusDecoder struct {
	b []byte
	i int
	// words holds the strings that repeat from row to row (states, kinds,
	// health, containment), so each is allocated once.
	words map[string]string
	// The values the rows' pointers point to, allocated a slab at a time.
	times  []time.Time
	ints   []int
	uints  []uint64
	floats []float64
}

// slab returns a pointer to a new zero element of *s, which it grows a
// slab at a time.
func slab[T any](s *[]T) *T {
	if len(*s) == cap(*s) {
		*s = make([]T, 0, 64)
	}
	*s = (*s)[:len(*s)+1]
	return &(*s)[len(*s)-1]
}

func (d *statusDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether c comes next, taking it.
func (d *statusDecoder) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string that needs no unescaping (printable ASCII, no
// backslash) and returns its content.
func (d *statusDecoder) str() ([]byte, bool) {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[d.i+1 : j]
			d.i = j + 1
			return s, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// lit reads a number, true, false or null.
func (d *statusDecoder) lit() ([]byte, bool) {
	d.ws()
	j := d.i
	for j < len(d.b) {
		c := d.b[j]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E' {
			j++
			continue
		}
		break
	}
	if j == d.i {
		return nil, false
	}
	v := d.b[d.i:j]
	d.i = j
	return v, true
}

// isNull reports whether null comes next, taking it.
func (d *statusDecoder) isNull() bool {
	d.ws()
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

// value skips one value, of any kind, and returns its bytes.
func (d *statusDecoder) value() ([]byte, bool) {
	d.ws()
	start, depth, inStr := d.i, 0, false
	for ; d.i < len(d.b); d.i++ {
		c := d.b[d.i]
		if inStr {
			switch c {
			case '\\':
				d.i++
			case '"':
				inStr = false
				if depth == 0 {
					d.i++
					return d.b[start:d.i], true
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return nil, false
			}
			if depth == 0 {
				d.i++
				return d.b[start:d.i], true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return d.b[start:d.i], d.i > start
			}
		}
	}
	return d.b[start:d.i], depth == 0 && !inStr && d.i > start
}

func (d *statusDecoder) status(st *Status) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return d.end()
	}
	for {
		key, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		switch string(key) {
		case "supervisor":
			// A key it does not know (a field added since) sends the
			// supervisor's object, alone, to json.Unmarshal.
			d.ws()
			start, before := d.i, st.Supervisor
			if !d.supervisor(&st.Supervisor) {
				d.i = start
				v, ok := d.value()
				st.Supervisor = before
				if !ok || json.Unmarshal(v, &st.Supervisor) != nil {
					return false
				}
			}
		case "services":
			if !d.services(st) {
				return false
			}
		default:
			return false
		}
		if d.next('}') {
			return d.end()
		}
		if !d.next(',') {
			return false
		}
	}
}

// end reports whether only white space is left.
func (d *statusDecoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

func (d *statusDecoder) services(st *Status) bool {
	if d.isNull() {
		st.Services = nil
		return true
	}
	if !d.next('[') {
		return false
	}
	// A row is some 500 bytes of JSON: room for them all at once.
	st.Services = make([]Service, 0, len(d.b)/512+1)
	if d.next(']') {
		return true
	}
	for {
		st.Services = append(st.Services, Service{})
		if !d.service(&st.Services[len(st.Services)-1]) {
			return false
		}
		if d.next(']') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

func (d *statusDecoder) supervisor(s *Supervisor) bool {
	if d.isNull() {
		return true
	}
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		switch string(key) {
		case "pid":
			ok = d.int(&s.Pid)
		case "core_pid":
			ok = d.int(&s.CorePid)
		case "version":
			ok = d.string(&s.Version)
		case "config":
			ok = d.string(&s.Config)
		case "state_dir":
			ok = d.string(&s.StateDir)
		case "started_at":
			ok = d.time(&s.StartedAt)
		case "containment":
			ok = d.string(&s.Containment)
		case "platform":
			ok = d.string(&s.Platform)
		case "core_restarts":
			ok = d.int(&s.CoreRestarts)
		case "binary":
			ok = d.string(&s.Binary)
		case "last_upgrade":
			// Rare, and an object of its own: json.Unmarshal reads it.
			var v []byte
			v, ok = d.value()
			ok = ok && json.Unmarshal(v, &s.LastUpgrade) == nil
		case "log_dropped":
			ok = d.uint(&s.LogDropped)
		case "journal_dropped":
			ok = d.uint(&s.JournalDropped)
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

func (d *statusDecoder) service(s *Service) bool {
	if d.isNull() {
		return true
	}
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		switch string(key) {
		case "name":
			ok = d.string(&s.Name)
		case "kind":
			ok = d.word(&s.Kind)
		case "state":
			ok = d.word(&s.State)
		case "wanted":
			ok = d.word(&s.Wanted)
		case "since":
			ok = d.time(&s.Since)
		case "pid":
			ok = d.int(&s.Pid)
		case "restarts":
			ok = d.int(&s.Restarts)
		case "started_at":
			ok = d.timePtr(&s.StartedAt)
		case "exit_code":
			ok = d.intPtr(&s.ExitCode)
		case "exit_signal":
			ok = d.word(&s.ExitSignal)
		case "error":
			ok = d.string(&s.Error)
		case "waiting_on":
			ok = d.string(&s.WaitingOn)
		case "blocked":
			ok = d.bool(&s.Blocked)
		case "health":
			ok = d.word(&s.Health)
		case "next_retry_at":
			ok = d.timePtr(&s.NextRetryAt)
		case "next_run_at":
			ok = d.timePtr(&s.NextRunAt)
		case "containment":
			ok = d.word(&s.Containment)
		case "log_dropped":
			ok = d.uint(&s.LogDropped)
		case "cpu_percent":
			ok = d.floatPtr(&s.CPUPercent)
		case "memory_bytes":
			ok = d.uintPtr(&s.MemoryBytes)
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// The field readers follow json.Unmarshal: null leaves a value as it is
// and sets a pointer to nil.

func (d *statusDecoder) string(p *string) bool {
	if d.isNull() {
		return true
	}
	if v, ok := d.str(); ok {
		*p = string(v)
		return true
	}
	return d.quoted(p)
}

// quoted reads a string str leaves (escapes, other than printable ASCII)
// with json.Unmarshal, which gives it as it would within the whole.
func (d *statusDecoder) quoted(p *string) bool {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return false
	}
	v, ok := d.value()
	return ok && json.Unmarshal(v, p) == nil
}

// word is string for a value many rows share.
func (d *statusDecoder) word(p *string) bool {
	if d.isNull() {
		return true
	}
	v, ok := d.str()
	if !ok {
		return d.quoted(p)
	}
	w, seen := d.words[string(v)]
	if !seen {
		if d.words == nil {
			d.words = make(map[string]string)
		}
		w = string(v)
		d.words[w] = w
	}
	*p = w
	return true
}

func (d *statusDecoder) time(p *time.Time) bool {
	if d.isNull() {
		return true
	}
	d.ws()
	start := d.i
	if _, ok := d.str(); !ok {
		return false
	}
	return p.UnmarshalJSON(d.b[start:d.i]) == nil
}

func (d *statusDecoder) timePtr(p **time.Time) bool {
	if d.isNull() {
		*p = nil
		return true
	}
	t := slab(&d.times)
	*p = t
	return d.time(t)
}

func (d *statusDecoder) int(p *int) bool {
	if d.isNull() {
		return true
	}
	v, ok := d.lit()
	if !ok || !jsonNumber(v) {
		return false
	}
	n, err := strconv.ParseInt(string(v), 10, strconv.IntSize)
	*p = int(n)
	return err == nil
}

func (d *statusDecoder) intPtr(p **int) bool {
	if d.isNull() {
		*p = nil
		return true
	}
	n := slab(&d.ints)
	*p = n
	return d.int(n)
}

func (d *statusDecoder) uint(p *uint64) bool {
	if d.isNull() {
		return true
	}
	v, ok := d.lit()
	if !ok || !jsonNumber(v) {
		return false
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	*p = n
	return err == nil
}

func (d *statusDecoder) uintPtr(p **uint64) bool {
	if d.isNull() {
		*p = nil
		return true
	}
	n := slab(&d.uints)
	*p = n
	return d.uint(n)
}

func (d *statusDecoder) floatPtr(p **float64) bool {
	if d.isNull() {
		*p = nil
		return true
	}
	v, ok := d.lit()
	if !ok || !jsonNumber(v) {
		return false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return false
	}
	*p = slab(&d.floats)
	**p = f
	return true
}

func (d *statusDecoder) bool(p *bool) bool {
	if d.isNull() {
		return true
	}
	v, ok := d.lit()
	switch {
	case !ok:
		return false
	case string(v) == "true":
		*p = true
	case string(v) == "false":
		*p = false
	default:
		return false
	}
	return true
}

// jsonNumber reports whether v is a number as JSON writes one (strconv
// also reads forms JSON does not have: "inf", "0x1p-2", "1_000").
func jsonNumber(v []byte) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(v)
}
