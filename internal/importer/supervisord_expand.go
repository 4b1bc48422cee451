package importer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/respawn-sh/respawn/internal/lazy"
)

// envMark brackets a variable name in expanded text: supervisord's
// %(ENV_X)s is read from its environment when it loads the file, which
// respawn's ${X} does too, but the text around it is literal and must be
// escaped for respawn while ${X} must not.
const envMark = "\x00"

var pyFormat = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp {
	return regexp.MustCompile(`%%|%\(([^)]*)\)([-#0 +]*[0-9]*(?:\.[0-9]+)?)([sdr])`)
}}

// expand does supervisord's %(name)s expansion of a value. vars holds
// strings and ints; ENV_X becomes a marked reference to X.
func expand(s string, vars map[string]any) (string, error) {
	var err error
	out := pyFormat.Get().ReplaceAllStringFunc(s, func(m string) string {
		if m == "%%" {
			return "%"
		}
		sub := pyFormat.Get().FindStringSubmatch(m)
		name, flags, verb := sub[1], sub[2], sub[3]
		if env, ok := strings.CutPrefix(name, "ENV_"); ok {
			if verb == "d" || flags != "" {
				err = fmt.Errorf("%s: an environment variable can be carried over only as %%(ENV_%s)s", m, env)
			}
			return envMark + env + envMark
		}
		v, ok := vars[name]
		if !ok {
			err = fmt.Errorf("%s: supervisord knows no %q here", m, name)
			return m
		}
		if verb == "r" {
			verb = "s"
		}
		if n, isInt := v.(int); isInt && verb == "s" {
			v = strconv.Itoa(n)
		}
		if _, isStr := v.(string); isStr && verb == "d" {
			err = fmt.Errorf("%s: %q is not a number", m, name)
			return m
		}
		return fmt.Sprintf("%"+flags+verb, v)
	})
	return out, err
}

// render writes expanded text for respawn: literal text escaped, marked
// variables as ${X}.
func render(s string) string {
	parts := strings.Split(s, envMark)
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString("${" + p + "}")
		} else {
			b.WriteString(literal(p))
		}
	}
	return b.String()
}

// hasEnv says whether expanded text holds a variable reference.
func hasEnv(s string) bool { return strings.Contains(s, envMark) }
