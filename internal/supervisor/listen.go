package supervisor

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/proc"
)

// Sockets opens and closes the listening sockets the keeper holds for the
// services: it, not the core, owns them, so they outlive any core.
type Sockets interface {
	// Listen opens the socket, or applies s's settings to the one open.
	Listen(s Socket) error
	// Unlisten closes the socket of service at addr.
	Unlisten(service, addr string) error
	// Held lists the sockets the keeper held when this core connected.
	Held() []Socket
}

// Socket is one listening socket of a service: the service written in the
// file (replicas share their sockets), its address and settings.
type Socket struct {
	Service string
	Addr    string
	Backlog int
	Mode    uint32
	Owner   string
	Group   string
}

func (s Socket) key() string { return s.Service + "\x00" + s.Addr }

// ownerOf is the service a config entry's sockets are held for.
func ownerOf(sc *config.Service) string {
	if sc.ReplicaOf != "" {
		return sc.ReplicaOf
	}
	return sc.Name
}

// socketsOf lists what cfg asks the keeper to hold, each socket once.
func socketsOf(cfg *config.Config) []Socket {
	seen := map[string]bool{}
	var out []Socket
	for _, sc := range cfg.Services {
		for _, l := range sc.Listen {
			s := Socket{Service: ownerOf(sc), Addr: l.Addr, Backlog: sc.Backlog, Mode: l.Mode, Owner: l.Owner, Group: l.Group}
			if !seen[s.key()] {
				seen[s.key()] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// listenersOf is what a service's spawn names: its sockets in order.
func listenersOf(sc *config.Service) []proc.Listener {
	if len(sc.Listen) == 0 {
		return nil
	}
	out := make([]proc.Listener, len(sc.Listen))
	for i, l := range sc.Listen {
		out[i] = proc.Listener{Owner: ownerOf(sc), Addr: l.Addr, Name: l.Name}
	}
	return out
}

// openSockets asks the keeper for every socket of want. On a failure it
// closes those it opened (never one open before) and returns the error.
func (s *Supervisor) openSockets(want, had []Socket) error {
	if s.opts.Sockets == nil {
		if len(want) > 0 {
			return errors.New("listen: this runner cannot hold sockets")
		}
		return nil
	}
	before := map[string]bool{}
	for _, h := range had {
		before[h.key()] = true
	}
	var opened []Socket
	for _, w := range want {
		if err := s.opts.Sockets.Listen(w); err != nil {
			for _, o := range opened {
				_ = s.opts.Sockets.Unlisten(o.Service, o.Addr)
			}
			return fmt.Errorf("service %s: %w", w.Service, err)
		}
		if !before[w.key()] {
			opened = append(opened, w)
		}
	}
	return nil
}

// closeSockets closes what had holds and want does not.
func (s *Supervisor) closeSockets(want, had []Socket) error {
	if s.opts.Sockets == nil {
		return nil
	}
	keep := map[string]bool{}
	for _, w := range want {
		keep[w.key()] = true
	}
	var errs []error
	for _, h := range had {
		if !keep[h.key()] {
			if err := s.opts.Sockets.Unlisten(h.Service, h.Addr); err != nil {
				errs = append(errs, fmt.Errorf("close %s of %s: %w", h.Addr, h.Service, err))
			}
		}
	}
	return errors.Join(errs...)
}

// heldSockets is what the keeper held when this core connected.
func (s *Supervisor) heldSockets() []Socket {
	if s.opts.Sockets == nil {
		return nil
	}
	h := slices.Clone(s.opts.Sockets.Held())
	slices.SortFunc(h, func(a, b Socket) int { return strings.Compare(a.key(), b.key()) })
	return h
}
