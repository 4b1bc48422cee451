package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// credentials is the user key read: the user and, after a colon, the group
// to run as. They are one key so that a service's "user: app" replaces a
// "user: www:www" from the defaults whole, group included.
type credentials struct {
	user, group string
}

// credentials reads "USER" or "USER:GROUP", as docker's user does. An empty
// value inherits the supervisor's user, so "user: ${RUN_AS}" with RUN_AS
// unset runs as respawn does.
func (d *decoder) credentials(v *yaml.Node, path string) (credentials, bool) {
	s, ok := d.str(v, path)
	if !ok {
		return credentials{}, false
	}
	user, group, hasGroup := strings.Cut(s, ":")
	switch {
	case hasGroup && user == "":
		d.errorf(resolve(v), "%s: %q needs a user before the colon (USER:GROUP)", path, shorten(s))
	case hasGroup && group == "":
		d.errorf(resolve(v), "%s: %q needs a group after the colon (USER:GROUP)", path, shorten(s))
	case strings.Contains(group, ":"):
		d.errorf(resolve(v), "%s: expected USER or USER:GROUP, got %q", path, shorten(s))
	case strings.ContainsAny(s, " \t\n"):
		d.errorf(resolve(v), "%s: %q contains a space; user and group names have none", path, shorten(s))
	default:
		return credentials{user: user, group: group}, true
	}
	return credentials{}, false
}

// serviceGroup reads the group key: a label naming a set of services, which
// commands address as "@NAME". It follows the rules for service names; an
// empty one puts the service in no group, so a service can leave the group
// the defaults give.
func (d *decoder) serviceGroup(l *layer, v *yaml.Node, path string) {
	s, ok := d.str(v, path)
	if !ok {
		return
	}
	if msg := nameProblem("group", s); s != "" && msg != "" {
		d.errorf(resolve(v), "%s: %s", path, msg)
		return
	}
	l.serviceGroup.put(s, v)
}
