// Package web is the dashboard: a page, its script and its style, embedded in the binary, that show and drive the services through the API from the browser.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// The page holds no data: everything it shows comes from the API, with the
// token the person types in. So it is served to anyone who asks, and the
// API's token check stays the one gate.
//
//go:embed assets
var assets embed.FS

// Prefix is where the script and the style are served; the page itself is "/".
const Prefix = "/ui/"

// Handler serves the dashboard: the page at "/" and its files under Prefix.
func Handler() http.Handler {
	files, err := fs.Sub(assets, "assets")
	if err != nil {
		// The embedded tree is fixed at build time: this cannot fail at run time.
		panic(err)
	}
	page, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err)
	}
	static := http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Only the page's own script and style, and requests to its own
		// origin: nothing put into a service's name or a log line can run
		// or load anything.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		case r.URL.Path == "/":
			h.Set("Content-Type", "text/html; charset=utf-8")
			if r.Method == http.MethodGet {
				_, _ = w.Write(page)
			}
		case strings.HasPrefix(r.URL.Path, Prefix) && !strings.HasSuffix(r.URL.Path, "/") && r.URL.Path != Prefix+"index.html":
			// Files only: no folder (which would list or redirect) and not
			// the page under a second name.
			static.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
