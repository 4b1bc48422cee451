// Package importer converts other supervisors' configs into respawn's YAML, naming whatever did not carry over unchanged.
package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/lazy"
)

// Result is a converted config: the YAML text, and one note per thing whose
// meaning changed or that could not be carried over. Every note is also a
// comment in the YAML, on the line concerned or at the top of its service.
type Result struct {
	YAML  []byte
	Notes []string
}

// conf is a respawn config being built, with its comments.
type conf struct {
	format   string
	header   []string // comment lines at the top of the file
	defaults *service // nil when nothing goes in defaults
	services []*service
	notes    []string
}

// service is one service being built. origin names it as the source file
// does (supervisord's "program:web"), for the notes.
type service struct {
	name, origin string
	comments     []string // comment lines under the service's key
	root         node
}

// node is one key of a service: a value written on its line, or children.
type node struct {
	key, value string
	comments   []string
	kids       []*node
}

// serviceKeys fixes the order of a service's keys in the output, whatever
// order the source file had them in.
var serviceKeys = []string{"kind", "command", "cwd", "user", "umask", "env", "env_file", "group", "autostart",
	"replicas", "depends_on", "schedule", "restart", "stop", "logs", "ready", "health"}

func newConf(format string) *conf { return &conf{format: format} }

// maxSource bounds a file an importer reads (and what node prints of a
// pm2 ecosystem): configs are kilobytes; a larger file is not one.
const maxSource = 16 << 20

// readSource reads a source file whole, up to maxSource; errors wrap the
// open's (fs.ErrNotExist stays recognisable).
func readSource(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSource+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSource {
		return nil, fmt.Errorf("%s is larger than %d MiB: not a config file", path, maxSource>>20)
	}
	return data, nil
}

// cappedBuffer keeps what a child prints, up to maxSource.
type cappedBuffer struct {
	bytes.Buffer
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxSource {
		b.over = true
		return 0, errors.New("output larger than the limit")
	}
	return b.Buffer.Write(p)
}

// addNamed adds the service a source names name, under the respawn name
// made of it, saying so when the two differ.
func (c *conf) addNamed(name string) (*service, error) {
	sname := serviceName(name)
	if sname == "" {
		return nil, fmt.Errorf("%q cannot be a respawn service name", name)
	}
	s := c.add(sname, name)
	if sname != name {
		c.changed(s, nil, "name", fmt.Sprintf("%q is not a valid service name: named %s", name, sname))
	}
	return s, nil
}

func (c *conf) add(name, origin string) *service {
	s := &service{name: name, origin: origin}
	c.services = append(c.services, s)
	return s
}

// set writes value at a dotted path such as "restart.policy" and returns its node.
func (s *service) set(path, value string) *node {
	n := &s.root
	for _, k := range strings.Split(path, ".") {
		i := slices.IndexFunc(n.kids, func(m *node) bool { return m.key == k })
		if i < 0 {
			n.kids = append(n.kids, &node{key: k})
			i = len(n.kids) - 1
		}
		n = n.kids[i]
	}
	n.value = value
	return n
}

// changed notes that the key written at n does not mean quite what key meant
// in the source; with n nil, that what the service does differs, in a
// comment line under its name.
func (c *conf) changed(s *service, n *node, key, why string) {
	if n == nil {
		s.comments = append(s.comments, key+": "+why)
	} else {
		n.comments = append(n.comments, key+": "+why)
	}
	c.note(fmt.Sprintf("%s: %s: %s", s.origin, key, why))
}

// note lists a note once, however many services (the processes of one
// numprocs program) carry its comment.
func (c *conf) note(n string) {
	if !slices.Contains(c.notes, n) {
		c.notes = append(c.notes, n)
	}
}

// dropped notes that key could not be carried over into service s.
func (c *conf) dropped(s *service, key, why string) {
	s.comments = append(s.comments, key+": not carried over: "+why)
	c.note(fmt.Sprintf("%s: %s: not carried over: %s", s.origin, key, why))
}

// droppedTop notes something outside any service that could not be carried over.
func (c *conf) droppedTop(what, why string) {
	c.header = append(c.header, what+": not carried over: "+why)
	c.note(fmt.Sprintf("%s: not carried over: %s", what, why))
}

// result writes the YAML text.
func (c *conf) result(source string) *Result {
	var b strings.Builder
	fmt.Fprintf(&b, "# Imported from %s (%s) by respawn import.\n", source, c.format)
	for _, h := range c.header {
		writeComment(&b, 0, h)
	}
	b.WriteString("version: 1\n")
	if c.defaults != nil {
		b.WriteString("defaults:\n")
		writeNodes(&b, 1, c.defaults.root.kids)
	}
	if len(c.services) == 0 {
		b.WriteString("services: {}\n")
		return &Result{YAML: []byte(b.String()), Notes: c.notes}
	}
	b.WriteString("services:\n")
	for _, s := range c.services {
		b.WriteString("  " + key(s.name) + ":\n")
		for _, m := range s.comments {
			writeComment(&b, 2, m)
		}
		kids := slices.Clone(s.root.kids)
		slices.SortStableFunc(kids, func(a, b *node) int {
			return slices.Index(serviceKeys, a.key) - slices.Index(serviceKeys, b.key)
		})
		writeNodes(&b, 2, kids)
	}
	return &Result{YAML: []byte(b.String()), Notes: c.notes}
}

func writeNodes(b *strings.Builder, depth int, nodes []*node) {
	for _, n := range nodes {
		pad := strings.Repeat("  ", depth)
		line := pad + key(n.key) + ":"
		if n.value != "" {
			line += " " + n.value
		}
		if len(n.comments) > 0 {
			line += "  # " + oneLine(strings.Join(n.comments, "; "))
		}
		b.WriteString(line + "\n")
		writeNodes(b, depth+1, n.kids)
	}
}

func writeComment(b *strings.Builder, depth int, text string) {
	b.WriteString(strings.Repeat("  ", depth) + "# " + oneLine(text) + "\n")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// The package's regular expressions are compiled on first use: compiled at
// package initialisation, every run of the binary (respawn status too) would
// pay for them.
var plainKey = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`) }}

// key writes a mapping key, quoted unless YAML would read it as a plain string.
func key(k string) string {
	switch strings.ToLower(k) {
	case "true", "false", "null", "yes", "no", "on", "off", "y", "n":
		return str(k)
	}
	if plainKey.Get().MatchString(k) {
		return k
	}
	return str(k)
}

// str writes a string as a YAML double-quoted scalar (JSON's escapes are YAML's).
func str(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func list(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = str(it)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func ints(codes []int) string {
	q := make([]string, len(codes))
	for i, c := range codes {
		q[i] = strconv.Itoa(c)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// dur writes a duration in respawn's syntax.
func dur(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	// "1m0s" reads as well as "1m", but the shorter is what people write.
	for _, z := range []string{"m0s", "h0m"} {
		if before, ok := strings.CutSuffix(s, z); ok {
			s = before + z[:1]
		}
	}
	return s
}

// literal keeps s from being read as ${VAR} by respawn: a $ before { or $
// is doubled, and every other $ already stands for itself.
func literal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$') {
			b.WriteByte('$')
		}
	}
	return b.String()
}

var badNameChar = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9_.-]`) }}

// serviceName turns a name into a valid respawn service name; "" when
// nothing of it is left.
func serviceName(name string) string {
	n := badNameChar.Get().ReplaceAllString(name, "_")
	for strings.Contains(n, "..") {
		n = strings.ReplaceAll(n, "..", ".")
	}
	n = strings.TrimLeft(n, "_.-")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}
