package config

import (
	"go.yaml.in/yaml/v3"
)

var supervisorTable = table[Supervisor]{keys: map[string]func(*decoder, *Supervisor, *yaml.Node, string){
	"state_dir": func(d *decoder, s *Supervisor, v *yaml.Node, p string) {
		if dir, ok := d.str(v, p); ok {
			if dir == "" {
				d.errorf(resolve(v), "%s: must not be empty", p)
				return
			}
			s.StateDir = d.abs(dir)
		}
	},
	"log": func(d *decoder, s *Supervisor, v *yaml.Node, p string) { walk(d, v, p, &logTable, &s.Log) },
}}

var logTable = table[LogSettings]{keys: map[string]func(*decoder, *LogSettings, *yaml.Node, string){
	"level": func(d *decoder, l *LogSettings, v *yaml.Node, p string) {
		if s, ok := d.oneOf(v, p, "debug", "info", "warn", "error"); ok {
			l.Level = s
		}
	},
	"format": func(d *decoder, l *LogSettings, v *yaml.Node, p string) {
		if s, ok := d.oneOf(v, p, "text", "json"); ok {
			l.Format = s
		}
	},
}}

// supervisor reads the supervisor section, which may be absent (nil).
func (d *decoder) supervisor(n *yaml.Node) Supervisor {
	s := Supervisor{StateDir: d.abs(".respawn"), Log: LogSettings{Level: "info", Format: "text"}}
	if n != nil {
		walk(d, n, "supervisor", &supervisorTable, &s)
	}
	return s
}
