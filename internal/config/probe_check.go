package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"sync"
)

// These checks return what is wrong with a probe's target as a message
// (empty when it is fine), and the underlying error where there is one.

// checkHTTP wants an absolute http:// or https:// URL with a host.
func checkHTTP(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("invalid URL: %v", err), err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("%q is not an http:// or https:// URL", shorten(s)), nil
	}
	if u.Hostname() == "" {
		return fmt.Sprintf("%q has no host", shorten(s)), nil
	}
	return "", nil
}

// portName is a service name as /etc/services has them ("postgresql",
// "http-alt"). It is resolved when the probe dials, not here: the file may
// be checked on another machine.
var portName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`) })

// checkTCP wants HOST:PORT; an empty host is the local machine, as for a
// dial, and the port is a number from 1 to 65535 or a service name.
func checkTCP(s string) (string, error) {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("expected HOST:PORT such as 127.0.0.1:5432, got %q", shorten(s)), err
	}
	if n, err := strconv.ParseUint(port, 10, 64); err == nil {
		if n < 1 || n > 65535 {
			return fmt.Sprintf("port %s in %q is out of range (1 to 65535)", port, shorten(s)), nil
		}
		return "", nil
	}
	if !portName().MatchString(port) {
		return fmt.Sprintf("port %q in %q is neither a number nor a service name", shorten(port), shorten(s)), nil
	}
	return "", nil
}

// checkLog wants a non-empty regular expression in Go's syntax (RE2).
func checkLog(s string) (string, error) {
	if s == "" {
		return "must not be empty (it would match any line)", nil
	}
	if _, err := regexp.Compile(s); err != nil {
		return fmt.Sprintf("invalid regular expression: %v", err), err
	}
	return "", nil
}
