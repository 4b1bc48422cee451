// listenserver is a small HTTP server that takes its listener as systemd's
// socket activation passes it (fd 3, LISTEN_FDS, LISTEN_PID) and answers
// every request with its pid. It starts accepting once READY_AFTER has
// passed (never, with READY_AFTER=never) and prints "ready pid N" then. On
// SIGTERM it finishes the requests in flight, then exits.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) || os.Getenv("LISTEN_FDS") == "" {
		fmt.Fprintf(os.Stderr, "not socket-activated: LISTEN_PID=%q (pid %d) LISTEN_FDS=%q\n",
			os.Getenv("LISTEN_PID"), os.Getpid(), os.Getenv("LISTEN_FDS"))
		os.Exit(3)
	}
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listener from fd 3:", err)
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
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ms, err := strconv.Atoi(r.URL.Query().Get("sleep_ms")); err == nil {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		fmt.Fprintln(w, pid)
	})}
	done := make(chan struct{})
	go func() {
		<-sigs
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // the requests in flight finish
		close(done)
	}()
	fmt.Printf("ready pid %s\n", pid)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	<-done
}
