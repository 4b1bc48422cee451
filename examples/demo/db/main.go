// Command db stands in for a database in the examples: it takes a moment to
// start, then accepts TCP connections and answers each with one line.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5439", "address to listen on")
	warmup := flag.Duration("warmup", 2*time.Second, "how long it takes to start")
	flag.Parse()
	log.Printf("recovering the write-ahead log (%s)", *warmup)
	time.Sleep(*warmup)
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("ready to accept connections on %s", *listen)
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintln(c, "db: ok")
		c.Close()
	}
}
