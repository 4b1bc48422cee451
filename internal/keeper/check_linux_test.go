package keeper

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestCheckAnswersWhatItDecoded(t *testing.T) {
	sample, want, err := checkArgs()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Check(sample)
	if err != nil || got != want {
		t.Fatalf("Check = %q, %v; want %q", got, err, want)
	}
	// Another sample, another answer: no fixed line passes.
	sample2, want2, err := checkArgs()
	if err != nil {
		t.Fatal(err)
	}
	if sample2 == sample || want2 == want {
		t.Errorf("two samples alike: %q", want)
	}
	// Hashing the bytes given is not reading them.
	sum := sha256.Sum256([]byte(sample))
	if CheckLine+" "+hex.EncodeToString(sum[:]) == want {
		t.Error("the answer is the digest of the raw sample")
	}
	// A field this binary does not know, another version, or no handover at all: refused.
	for name, bad := range map[string]string{
		"unknown field": strings.Replace(sample, `"version"`, `"future_field": 1, "version"`, 1),
		"version":       strings.Replace(sample, `"version": 1`, `"version": 2`, 1),
		"not json":      "respawn keeper protocol 1",
		"too large":     strings.Repeat(" ", maxCheckSample+1),
	} {
		if bad == sample {
			t.Fatalf("%s: sample unchanged", name)
		}
		if got, err := Check(bad); err == nil {
			t.Errorf("%s: Check = %q, want an error", name, got)
		}
	}
	// A keeper of an earlier release asks without a sample.
	if got, err := Check(""); err != nil || got != CheckLine {
		t.Errorf("Check(\"\") = %q, %v", got, err)
	}
}
