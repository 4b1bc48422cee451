package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/down", http.StatusFound) // followed, it would fail
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := testCtx(t)

	for _, path := range []string{"/ok", "/moved"} {
		if err := HTTP(srv.URL + path)(ctx); err != nil {
			t.Errorf("GET %s: %v, want pass", path, err)
		}
	}
	err := HTTP(srv.URL + "/down")(ctx)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "503") {
		t.Errorf("GET /down: %v, want a StatusError naming 503", err)
	}
	if err := HTTP("://no scheme")(ctx); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad URL: %v, want ErrInvalid", err)
	}
}

func TestHTTPDialErrorAndTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers never: only the probe's timeout ends the try
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	if err := HTTP(srv.URL)(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging server: %v, want DeadlineExceeded", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	err := HTTP(url)(testCtx(t))
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "dial" {
		t.Errorf("closed server: %v, want a dial error", err)
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := TCP(addr)(testCtx(t)); err != nil {
		t.Errorf("open port: %v", err)
	}
	ln.Close()
	if err := TCP(addr)(testCtx(t)); err == nil {
		t.Errorf("closed port %s passed", addr)
	}
}

func TestExec(t *testing.T) {
	errExit := errors.New("exit status 3")
	var got []string
	run := func(ctx context.Context, argv []string) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		got = argv
		if argv[1] == "fail" {
			return errExit
		}
		return nil
	}
	argv := []string{"probe", "ok"}
	check := Exec(run, argv)
	argv[1] = "changed"
	if err := check(testCtx(t)); err != nil || !slices.Equal(got, []string{"probe", "ok"}) {
		t.Errorf("Exec ok: err %v, argv %q", err, got)
	}
	if err := Exec(run, []string{"probe", "fail"})(testCtx(t)); !errors.Is(err, errExit) {
		t.Errorf("Exec fail: %v, want the runner's error", err)
	}
	for _, c := range []Check{Exec(nil, []string{"x"}), Exec(run, nil)} {
		if err := c(testCtx(t)); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad Exec: %v, want ErrInvalid", err)
		}
	}
}
