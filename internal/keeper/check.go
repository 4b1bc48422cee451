//go:build linux || darwin || freebsd

package keeper

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
)

// The upgrade check. Printing a fixed line proves little: a binary that
// prints it may still not read the handover it is about to be given. So the
// keeper passes `__keeper-check` a sample handover, every field set to
// values drawn at random, and the new binary must decode it, refusing any
// field it does not know, and answer CheckLine followed by the digest of
// what it decoded, encoded again. The sample is sent indented and the
// digest is over the compact form: only a binary that decodes the format
// (not one that hashes what it was given) finds it.

// maxCheckSample bounds the sample a binary under check accepts.
const maxCheckSample = 64 << 10

// checkSample builds a handover with every field set to random values.
func checkSample() (*handover, error) {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("random sample: %w", err)
	}
	n := func(i int) int { return int(binary.LittleEndian.Uint16(seed[2*i:])) + 2 }
	word := hex.EncodeToString(seed[:6])
	at := time.Unix(int64(1e9+binary.LittleEndian.Uint32(seed[12:])), int64(n(8))).UTC()
	exit := proc.Exit{Code: n(9) % 256, At: at}
	blob, err := json.Marshal(map[string]any{"state": "running", "gen": n(10)})
	if err != nil {
		return nil, err
	}
	h := &handover{
		Version: handoverVersion, StateDir: "/state/" + word, InstanceID: word, NoCgroup: seed[20]&1 == 1,
		Binary: "/bin/" + word, CoreArgs: []string{"__core", "--config", word}, CoreEnv: []string{"A=" + word},
		CoreTimeout: time.Duration(n(0)) * time.Millisecond, LogLevel: "info", LogFormat: "text",
		ControlSocket: "/state/" + word + "/respawn.sock",
		LockFd:        n(1), StartedAt: at, BaseEnv: []string{"B=" + word}, CoreRestarts: n(2),
		Procs: []handoverProc{
			{Seq: uint64(n(3)), Name: "live-" + word, Pid: n(4), Pgid: n(4), StartedAt: at, Sink: "live-" + word},
			{Seq: uint64(n(3) + 1), Name: "ended-" + word, Pid: n(5), Pgid: n(5), StartedAt: at, Exit: &exit, OOM: true},
		},
		Streams:     []handoverStream{{Pid: n(4), Sink: "live-" + word, Stream: logs.Stderr, Fd: n(6), Carry: seed[:5]}},
		Sinks:       []handoverSink{{Name: "live-" + word, Path: "/logs/" + word, Options: logs.Options{MaxSize: int64(n(7)), MaxFiles: n(11) % 9}}},
		Saved:       map[string]json.RawMessage{"live-" + word: blob},
		Previous:    &CoreEnd{Pid: n(12), At: at, Exit: "exit status 2", Reason: ReasonCrashed, Output: word},
		Upgrade:     &UpgradeResult{At: at, From: "/bin/a" + word, To: "/bin/b" + word, Error: word, Active: "/bin/a" + word},
		UpgradeFrom: "/bin/old" + word, OldBinaryFd: n(13), Stopping: seed[21]&1 == 1, ReadyReported: true,
		Listeners: []handoverListener{{Spec: ListenSpec{Service: "live-" + word, Addr: "unix:///run/" + word, Backlog: n(14),
			Mode: uint32(n(15)%0o777) + 1, User: word, Group: word}, Fd: n(7)}},
	}
	return h, nil
}

// checkDigest is what a binary that read h answers.
func checkDigest(h *handover) (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("encode handover: %w", err)
	}
	sum := sha256.Sum256(b)
	return CheckLine + " " + hex.EncodeToString(sum[:]), nil
}

// Check is `respawn __keeper-check SAMPLE`: it decodes sample as a handover
// and returns the line that proves it. Without a sample (a keeper of an
// earlier release asks), it returns CheckLine alone.
func Check(sample string) (string, error) {
	if sample == "" {
		return CheckLine, nil
	}
	if len(sample) > maxCheckSample {
		return "", fmt.Errorf("handover sample of %d bytes, more than %d", len(sample), maxCheckSample)
	}
	dec := json.NewDecoder(strings.NewReader(sample))
	dec.DisallowUnknownFields()
	var h handover
	if err := dec.Decode(&h); err != nil {
		return "", fmt.Errorf("decode handover sample: %w", err)
	}
	if h.Version != handoverVersion {
		return "", fmt.Errorf("handover version %d, this binary reads %d", h.Version, handoverVersion)
	}
	return checkDigest(&h)
}

// checkArgs returns the sample to pass to a binary under check, and the
// line it must answer.
func checkArgs() (sample, want string, err error) {
	h, err := checkSample()
	if err != nil {
		return "", "", err
	}
	if want, err = checkDigest(h); err != nil {
		return "", "", err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(h); err != nil {
		return "", "", fmt.Errorf("encode handover sample: %w", err)
	}
	return b.String(), want, nil
}
