// listenserver is a small HTTP server that takes its listener as systemd's
// socket activation passes it (fd 3, LISTEN_FDS, LISTEN_PID) and answers
// every request with its pid. It starts accepting once READY_AFTER has
// passed (never, with READY_AFTER=never) and prints "ready pid N" then. On
// SIGTERM it finishes the requests in flight, then exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	ln, err := listener()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	var ready <-chan time.Time // nil: never
	switch v := os.Getenv("READY_AFTER"); v {
	case "never":
	case "":
		ready = time.After(0)
	default:
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "READY_AFTER:", err)
			os.Exit(2)
		}
		ready = time.After(d)
	}
	pid := strconv.Itoa(os.Getpid())
	fmt.Printf("started as pid %s, listening on %s (%s)\n", pid, ln.Addr(), os.Getenv("LISTEN_FDNAMES"))
	select {
	case <-ready:
	case <-sigs:
		fmt.Println("stopped before it was ready")
		return
	}
	var mu sync.Mutex // guards busy
	busy := map[net.Conn]bool{}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ms, err := strconv.Atoi(r.URL.Query().Get("sleep_ms")); err == nil {
				time.Sleep(time.Duration(ms) * time.Millisecond)
			}
			fmt.Fprintln(w, pid)
		}),
		// A connection is busy from its accept until it is idle or closed.
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			if st == http.StateNew || st == http.StateActive {
				busy[c] = true
			} else {
				delete(busy, c)
			}
		},
	}
	done := make(chan struct{})
	served := make(chan struct{}) // Serve returned: every accepted connection is in busy
	go func() {
		<-sigs
		// Stop accepting (the socket stays open in the supervisor and the
		// other incarnations), then let every accepted connection get its
		// answer: http.Server.Shutdown alone would drop a request that
		// arrives on an accepted connection after it began.
		ln.Close()
		<-served
		end := time.Now().Add(10 * time.Second)
		for time.Now().Before(end) {
			mu.Lock()
			n := len(busy)
			mu.Unlock()
			if n == 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		close(done)
	}()
	fmt.Printf("ready pid %s\n", pid)
	if err := srv.Serve(ln); err != http.ErrServerClosed && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	close(served)
	<-done
}

// listener is fd 3 when socket-activated; with BIND=ADDR and no LISTEN_FDS,
// a socket of its own (to compare with).
func listener() (net.Listener, error) {
	if addr := os.Getenv("BIND"); addr != "" && os.Getenv("LISTEN_FDS") == "" {
		return net.Listen("tcp", addr)
	}
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) || os.Getenv("LISTEN_FDS") != "1" {
		return nil, fmt.Errorf("not socket-activated: LISTEN_PID=%q (pid %d) LISTEN_FDS=%q",
			os.Getenv("LISTEN_PID"), os.Getpid(), os.Getenv("LISTEN_FDS"))
	}
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		return nil, fmt.Errorf("listener from fd 3: %w", err)
	}
	return ln, nil
}
