package supervisor

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// serviceKeys names config.Service's fields as the config file does, in the
// order a plan lists them. Fields that are not keys (the name, where it
// stands in the file, a replica's origin) are left out.
var serviceKeys = []struct{ field, key string }{
	{"Kind", "kind"}, {"Command", "command"}, {"Start", "start"}, {"Cwd", "cwd"}, {"Env", "env"},
	{"User", "user"}, {"Group", "user (group)"}, {"ServiceGroup", "group"}, {"Pidfile", "pidfile"},
	{"Match", "match"}, {"Unit", "unit"}, {"Umask", "umask"}, {"Rlimits", "limits"},
	{"Autostart", "autostart"}, {"Restart", "restart"}, {"Stop", "stop"}, {"Logs", "logs"},
	{"DependsOn", "depends_on"}, {"Schedule", "schedule"}, {"Ready", "ready"}, {"Health", "health"},
}

// keyChanges lists the keys whose value differs between old and cur, with
// both values in a short readable form.
func keyChanges(name string, old, cur *config.Service) []api.KeyChange {
	o, n := reflect.ValueOf(old).Elem(), reflect.ValueOf(cur).Elem()
	var out []api.KeyChange
	for _, k := range serviceKeys {
		ov, nv := o.FieldByName(k.field).Interface(), n.FieldByName(k.field).Interface()
		if reflect.DeepEqual(ov, nv) {
			continue
		}
		out = append(out, api.KeyChange{Service: name, Key: k.key, Old: show(ov), New: show(nv)})
	}
	return out
}

// maxShown bounds a value shown in a plan.
const maxShown = 200

// show renders a value for a plan: strings and lists as written, the rest
// with its fields named; long values are cut.
func show(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []string:
		s = "[" + strings.Join(x, " ") + "]"
	case fmt.Stringer:
		if reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil() {
			s = "none"
		} else {
			s = x.String()
		}
	default:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				s = "none"
				break
			}
			v = rv.Elem().Interface()
		}
		s = fmt.Sprintf("%+v", v)
	}
	if s == "" {
		s = `""`
	}
	if len(s) > maxShown {
		s = s[:maxShown-1] + "…"
	}
	return s
}
