// Command worker is the demo's unreliable worker: it works for a few seconds, then crashes.
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	jobs := 2 + rand.IntN(5)
	for i := 1; i <= jobs; i++ {
		fmt.Printf("processed job %d\n", i)
		time.Sleep(time.Second)
	}
	fmt.Fprintln(os.Stderr, "worker: lost connection to the queue, crashing")
	os.Exit(1)
}
