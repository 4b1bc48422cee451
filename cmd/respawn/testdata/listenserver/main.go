// listenserver is a small HTTP server that takes its listener as systemd's
// socket activation passes it (fd 3, LISTEN_FDS, LISTEN_PID) and answers
// every request with its pid. On SIGTERM it finishes the requests in
// flight, then exits. /ready answers 503 until READY_AFTER has passed since
// the start (never, with READY_AFTER=never).
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
	start := time.Now()
	readyAfter := time.Duration(0)
	never := false
	switch v := os.Getenv("READY_AFTER"); v {
	case "":
	case "never":
		never = true
	default:
		if readyAfter, err = time.ParseDuration(v); err != nil {
			fmt.Fprintln(os.Stderr, "READY_AFTER:", err)
			os.Exit(2)
		}
	}
	pid := strconv.Itoa(os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if never || time.Since(start) < readyAfter {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, pid)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if ms, err := strconv.Atoi(r.URL.Query().Get("sleep_ms")); err == nil {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		fmt.Fprintln(w, pid)
	})
	srv := &http.Server{Handler: mux}
	fmt.Printf("serving %s as pid %s (%s)\n", ln.Addr(), pid, os.Getenv("LISTEN_FDNAMES"))
	done := make(chan struct{})
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // the requests in flight finish
		close(done)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	<-done
}
