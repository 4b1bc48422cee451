package api

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// AppendStatusJSON appends st as encoding/json's Encoder with
// SetIndent("", "  ") writes it, final newline included, byte for byte:
// the server answers every status this way. The rows are written by hand,
// without reflection and without an allocation per row, so a status of
// hundreds of services costs little more than copying its bytes;
// TestAppendStatusJSONMatchesEncoder holds it to the encoder, field by field.
func AppendStatusJSON(b []byte, st *Status) []byte {
	b = append(b, "{\n  \"supervisor\": "...)
	sup, err := json.MarshalIndent(st.Supervisor, "  ", "  ")
	if err != nil {
		sup = []byte("null") // not reached: the supervisor's fields always encode
	}
	b = append(b, sup...)
	b = append(b, ",\n  \"services\": "...)
	switch {
	case st.Services == nil:
		b = append(b, "null"...)
	case len(st.Services) == 0:
		b = append(b, "[]"...)
	default:
		b = append(b, '[')
		for i := range st.Services {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendService(b, &st.Services[i])
		}
		b = append(b, "\n  ]"...)
	}
	return append(b, "\n}\n"...)
}

// appendService appends one row of services, at the indentation of its place.
func appendService(b []byte, s *Service) []byte {
	const in = "\n      \""
	b = append(b, "\n    {"...)
	b = appendField(b, in, "name", true)
	b = appendString(b, s.Name)
	b = appendField(b, in, "kind", false)
	b = appendString(b, s.Kind)
	b = appendField(b, in, "state", false)
	b = appendString(b, s.State)
	b = appendField(b, in, "wanted", false)
	b = appendString(b, s.Wanted)
	b = appendField(b, in, "since", false)
	b = appendTime(b, s.Since)
	b = appendField(b, in, "pid", false)
	b = strconv.AppendInt(b, int64(s.Pid), 10)
	b = appendField(b, in, "restarts", false)
	b = strconv.AppendInt(b, int64(s.Restarts), 10)
	b = appendField(b, in, "started_at", false)
	b = appendTimePtr(b, s.StartedAt)
	b = appendField(b, in, "exit_code", false)
	if s.ExitCode == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*s.ExitCode), 10)
	}
	b = appendField(b, in, "exit_signal", false)
	b = appendString(b, s.ExitSignal)
	b = appendField(b, in, "error", false)
	b = appendString(b, s.Error)
	if s.WaitingOn != "" {
		b = appendField(b, in, "waiting_on", false)
		b = appendString(b, s.WaitingOn)
	}
	if s.Blocked {
		b = appendField(b, in, "blocked", false)
		b = append(b, "true"...)
	}
	b = appendField(b, in, "health", false)
	b = appendString(b, s.Health)
	b = appendField(b, in, "next_retry_at", false)
	b = appendTimePtr(b, s.NextRetryAt)
	if s.NextRunAt != nil {
		b = appendField(b, in, "next_run_at", false)
		b = appendTime(b, *s.NextRunAt)
	}
	b = appendField(b, in, "containment", false)
	b = appendString(b, s.Containment)
	b = appendField(b, in, "log_dropped", false)
	b = strconv.AppendUint(b, s.LogDropped, 10)
	b = appendField(b, in, "cpu_percent", false)
	if s.CPUPercent == nil {
		b = append(b, "null"...)
	} else {
		b = appendFloat(b, *s.CPUPercent)
	}
	b = appendField(b, in, "memory_bytes", false)
	if s.MemoryBytes == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, *s.MemoryBytes, 10)
	}
	return append(b, "\n    }"...)
}

// appendField appends a key (plain ASCII) and its colon, after a comma
// unless it is the first.
func appendField(b []byte, indent, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, indent...)
	b = append(b, key...)
	return append(b, "\": "...)
}

// appendString appends s as a JSON string. Printable ASCII other than the
// characters encoding/json escapes is copied; anything else is left to
// encoding/json, so the escapes stay its own.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

// appendTime appends t as time.Time's MarshalJSON does: RFC 3339 with
// nanoseconds, quoted. A time RFC 3339 cannot hold (a year outside 0 to
// 9999, a zone 24 hours or more away) is written null, where MarshalJSON
// fails.
func appendTime(b []byte, t time.Time) []byte {
	n0 := len(b)
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	v := b[n0+1:]
	switch {
	case len(v) < len("0000-") || v[4] != '-':
		return append(b[:n0], "null"...)
	case v[len(v)-1] != 'Z':
		zone := v[len(v)-len("+07:00"):]
		if c := zone[0]; '0' <= c && c <= '9' || 10*(zone[1]-'0')+(zone[2]-'0') >= 24 {
			return append(b[:n0], "null"...)
		}
	}
	return append(b, '"')
}

// appendFloat appends f as encoding/json writes a float64 (ES6 number
// formatting); a value JSON cannot hold (NaN, ±Inf) is written null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
