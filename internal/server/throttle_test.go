package server

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

func TestWaitDoublesAfterTheFreeFailuresUpToTheCap(t *testing.T) {
	want := []time.Duration{0, 0, 0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, w := range want {
		if got := waitAfter(i + 1); got != w {
			t.Errorf("waitAfter(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := waitAfter(1000); got != maxWait {
		t.Errorf("waitAfter(1000) = %v, want the cap %v", got, maxWait)
	}
}

func TestThrottleMakesAFailingClientWaitAndNoOneElse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle()
		for i := 1; i <= freeFailures; i++ {
			if d, n := th.fail("10.0.0.5"); d != 0 || n != i {
				t.Fatalf("failure %d: wait %v, count %d; want no wait", i, d, n)
			}
		}
		if d, _ := th.fail("10.0.0.5"); d != firstWait {
			t.Fatalf("failure %d: wait %v, want %v", freeFailures+1, d, firstWait)
		}
		if d, n := th.wait("10.0.0.5"); d != firstWait || n != freeFailures+1 {
			t.Fatalf("wait = %v after %d failures, want %v after %d", d, n, firstWait, freeFailures+1)
		}
		if d, _ := th.wait("10.0.0.6"); d != 0 {
			t.Fatalf("another address waits %v", d)
		}
		time.Sleep(firstWait / 2)
		if d, _ := th.wait("10.0.0.5"); d != firstWait/2 {
			t.Fatalf("half way: wait %v, want %v", d, firstWait/2)
		}
		time.Sleep(firstWait / 2)
		if d, _ := th.wait("10.0.0.5"); d != 0 {
			t.Fatalf("after the wait: %v", d)
		}
		// The next failure doubles the wait; the wait does not grow by
		// requests made during it (those are not looked at).
		if d, _ := th.fail("10.0.0.5"); d != 2*firstWait {
			t.Fatalf("next failure: wait %v, want %v", d, 2*firstWait)
		}
		// Knowing the token forgives everything.
		th.pass("10.0.0.5")
		if d, n := th.wait("10.0.0.5"); d != 0 || n != 0 {
			t.Fatalf("after a pass: wait %v, %d failures", d, n)
		}
		if th.size() != 0 {
			t.Fatalf("%d clients remembered after the pass", th.size())
		}
	})
}

func TestThrottleForgetsAQuietClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle()
		for range 20 {
			th.fail("10.0.0.5")
		}
		if d, _ := th.wait("10.0.0.5"); d != maxWait {
			t.Fatalf("wait %v, want the cap %v", d, maxWait)
		}
		time.Sleep(forgetAfter)
		if d, n := th.wait("10.0.0.5"); d != 0 || n != 0 {
			t.Fatalf("after %v of quiet: wait %v, %d failures", forgetAfter, d, n)
		}
		if th.size() != 0 {
			t.Fatalf("%d clients remembered", th.size())
		}
	})
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle()
		for i := range maxClients + 500 {
			th.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
			if i%1000 == 0 {
				time.Sleep(time.Millisecond) // so that "oldest" means something
			}
		}
		if n := th.size(); n != maxClients {
			t.Fatalf("%d clients remembered, want the cap %d", n, maxClients)
		}
		// The latest failing address is kept over the first ones.
		for range freeFailures {
			th.fail("10.0.0.1")
		}
		last := fmt.Sprintf("10.0.%d.%d", (maxClients+499)>>8&255, (maxClients+499)&255)
		if _, n := th.wait(last); n != 1 {
			t.Fatalf("the latest address %s has %d failures, want 1", last, n)
		}
		if _, n := th.wait("10.0.0.0"); n != 0 {
			t.Fatalf("the oldest address was kept with %d failures", n)
		}
		// Stale entries go without waiting for the cap.
		time.Sleep(forgetAfter)
		th.fail("10.9.9.9")
		if n := th.size(); n != 1 {
			t.Fatalf("%d clients remembered after everyone else went quiet, want 1", n)
		}
	})
}

func TestClientKey(t *testing.T) {
	tests := map[string]string{
		"127.0.0.1:5000":             "127.0.0.1",
		"[::ffff:10.0.0.5]:80":       "10.0.0.5",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:9":   "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:9":        "2001:db8:1:3::/64",
		"[fe80::1%eth0]:9":           "fe80::/64",
		"not an address":             "not an address",
	}
	for in, want := range tests {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
