package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Listen is one socket of a service's `listen` list: the keeper opens it
// once and passes it to every incarnation as fd 3, 4, … (LISTEN_FDS).
type Listen struct {
	// Addr is tcp://HOST:PORT (HOST an IPv4 address, [IPv6], or nothing for
	// every address) or unix:///PATH.
	Addr string
	// Name is the socket's LISTEN_FDNAMES entry; default the service's name.
	Name string
	// Mode, Owner and Group apply to a Unix socket's file (0, "": as bound).
	Mode  uint32
	Owner string
	Group string
}

// Listen limits.
const (
	// MaxListen bounds the sockets of one service.
	MaxListen = 64
	// DefaultBacklog is the listen(2) backlog when backlog is not written.
	DefaultBacklog = 1024
	// maxUnixPath is the longest socket path every system takes (sun_path
	// is 104 bytes on macOS and FreeBSD, 108 on Linux, with its NUL).
	maxUnixPath = 103
)

// listenEntry is one entry as written, with where it stands.
type listenEntry struct {
	Listen
	at *yaml.Node
}

func (d *decoder) listen(l *layer, v *yaml.Node, path string) {
	if l.defaults {
		d.errorf(resolve(v), "%s: sockets cannot be set in defaults; give each service its own", path)
		return
	}
	items, ok := d.list(v, path, "a list of addresses")
	if !ok {
		return
	}
	if len(items) > MaxListen {
		d.errorf(resolve(v), "%s: %d sockets, at most %d", path, len(items), MaxListen)
		return
	}
	var out []listenEntry
	seen := map[string]bool{}
	good := true
	for i, item := range items {
		p := path + "[" + strconv.Itoa(i) + "]"
		e, ok := d.listenItem(item, p)
		if !ok {
			good = false
			continue
		}
		if seen[e.Addr] {
			d.errorf(e.at, "%s: %s is listed twice", p, e.Addr)
			good = false
			continue
		}
		seen[e.Addr] = true
		out = append(out, e)
	}
	if good {
		l.listen.put(out, v)
	}
}

var listenItemKeys = []string{"address", "name", "mode", "owner", "group"}

// listenItem reads "ADDRESS" or {address, name, mode, owner, group}.
func (d *decoder) listenItem(v *yaml.Node, path string) (listenEntry, bool) {
	n := resolve(v)
	e := listenEntry{at: n}
	if n != nil && n.Kind == yaml.ScalarNode {
		s, ok := d.text(n, path, "an address")
		if !ok {
			return e, false
		}
		e.Addr = s
		return e, d.checkListenAddr(n, path, e.Addr)
	}
	if n == nil || n.Kind != yaml.MappingNode {
		d.typeError(n, path, "an address or a mapping with address")
		return e, false
	}
	pairs, ok := d.mapping(n, path)
	if !ok {
		return e, false
	}
	good := true
	var addrAt *yaml.Node
	for _, p := range pairs {
		kp := join(path, p.name)
		switch p.name {
		case "address":
			s, ok := d.text(p.val, kp, "an address")
			good = good && ok && d.checkListenAddr(resolve(p.val), kp, s)
			e.Addr, addrAt = s, resolve(p.val)
		case "name":
			s, ok := d.text(p.val, kp, "a name")
			if ok && (s == "" || len(s) > 255 || strings.ContainsFunc(s, func(r rune) bool { return r == ':' || r < 0x21 || r > 0x7e })) {
				d.errorf(resolve(p.val), "%s: %q: 1 to 255 printable characters without ':' or spaces", kp, shorten(s))
				ok = false
			}
			good = good && ok
			e.Name = s
		case "mode":
			s, ok := d.text(p.val, kp, "an octal mode")
			m, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O"), 8, 32)
			if ok && (err != nil || m == 0 || m > 0o777) {
				d.errorf(resolve(p.val), "%s: expected an octal mode such as 0660, got %q", kp, shorten(s))
				ok = false
			}
			good = good && ok
			e.Mode = uint32(m)
		case "owner":
			s, ok := d.credentialName(p.val, kp)
			good = good && ok
			e.Owner = s
		case "group":
			s, ok := d.credentialName(p.val, kp)
			good = good && ok
			e.Group = s
		default:
			d.unknownKey(p.key, path, p.name, func() []string { return listenItemKeys })
			good = false
		}
	}
	if addrAt == nil && good {
		d.errorf(n, "%s: address is missing", path)
		return e, false
	}
	if good && !strings.HasPrefix(e.Addr, "unix://") && (e.Mode != 0 || e.Owner != "" || e.Group != "") {
		d.errorf(n, "%s: mode, owner and group apply to a unix:// socket only", path)
		return e, false
	}
	return e, good
}

func (d *decoder) credentialName(v *yaml.Node, path string) (string, bool) {
	s, ok := d.text(v, path, "a user or group name or id")
	if ok && (s == "" || strings.ContainsAny(s, ": \t\n\x00")) {
		d.errorf(resolve(v), "%s: %q is not a name or id", path, shorten(s))
		return "", false
	}
	return s, ok
}

// checkListenAddr checks what the keeper will bind, as the keeper reads it.
func (d *decoder) checkListenAddr(n *yaml.Node, path, addr string) bool {
	if err := checkListenAddr(addr); err != nil {
		d.errorf(n, "%s: %v", path, err)
		return false
	}
	return true
}

func checkListenAddr(addr string) error {
	if p, ok := strings.CutPrefix(addr, "unix://"); ok {
		switch {
		case !strings.HasPrefix(p, "/"):
			return fmt.Errorf("%q: the socket path must be absolute (unix:///PATH)", addr)
		case len(p) > maxUnixPath:
			return fmt.Errorf("%q: socket path of %d bytes, longer than %d", addr, len(p), maxUnixPath)
		case strings.ContainsRune(p, 0):
			return fmt.Errorf("%q: NUL in the socket path", addr)
		}
		return nil
	}
	hp, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return fmt.Errorf("%q: expected tcp://HOST:PORT or unix:///PATH", shorten(addr))
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("%q: expected tcp://HOST:PORT ([HOST] for IPv6, nothing for every address)", shorten(addr))
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port must be 1 to 65535", shorten(addr))
	}
	if host == "" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err != nil || ip.Zone() != "" {
		return fmt.Errorf("%q: %q is not an IP address (names are not resolved)", shorten(addr), host)
	}
	return nil
}

func (d *decoder) backlog(l *layer, v *yaml.Node, path string) {
	putOK(&l.backlog, v)(d.integer(v, path, 1, math.MaxUint16))
}

// listenOwners remembers, per address, the service written in the file that
// listens on it, to refuse one address in two services.
type listenOwner struct {
	service string
	at      *yaml.Node
}

// finalListen sets s.Listen and s.Backlog and checks that no other service
// holds one of the addresses.
func (d *decoder) finalListen(s *Service, name string, own, base *layer) {
	for _, e := range own.listen.val {
		l := e.Listen
		if l.Name == "" {
			l.Name = name
		}
		s.Listen = append(s.Listen, l)
		if prev, ok := d.listenOwners[l.Addr]; ok && prev.service != name {
			d.errorf(e.at, "listen: %s is also a socket of service %s (line %d)", l.Addr, prev.service, prev.at.Line)
			continue
		}
		if d.listenOwners == nil {
			d.listenOwners = map[string]listenOwner{}
		}
		d.listenOwners[l.Addr] = listenOwner{service: name, at: e.at}
	}
	s.Backlog = over(own.backlog, base.backlog, DefaultBacklog).val
}
