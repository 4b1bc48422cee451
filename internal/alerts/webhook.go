package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body,
// keyed with the webhook's secret, as GitHub's webhooks do.
const SignatureHeader = "X-Respawn-Signature"

// maxSecret bounds a secret file: a key, not a document.
const maxSecret = 64 << 10

// errPermanent marks an answer that trying again will not change.
var errPermanent = errors.New("not retried")

// webhookSender POSTs the alert, retrying network errors, timeouts, 429
// and 5xx answers with a doubling backoff.
func webhookSender(w *config.WebhookAlert, lookupEnv func(string) (string, bool)) func(context.Context, api.Alert) (int, error) {
	client := &http.Client{
		// Alerts go where the config says, not where a redirect points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, a api.Alert) (int, error) {
		body, err := json.Marshal(a)
		if err != nil {
			return 0, fmt.Errorf("encode alert: %w", err)
		}
		var sig string
		if !w.Secret.IsZero() {
			key, err := readSecret(w.Secret, lookupEnv)
			if err != nil {
				return 0, fmt.Errorf("webhook secret: %w", err)
			}
			m := hmac.New(sha256.New, key)
			m.Write(body)
			sig = "sha256=" + hex.EncodeToString(m.Sum(nil))
		}
		wait := w.Backoff
		tries := 0
		for {
			tries++
			err = postOnce(ctx, client, w, body, sig)
			if err == nil || errors.Is(err, errPermanent) || tries > w.Retries {
				return tries, err
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return tries, fmt.Errorf("%w (given up: %w)", err, context.Cause(ctx))
			case <-t.C:
			}
			wait *= 2
		}
	}
}

func postOnce(ctx context.Context, client *http.Client, w *config.WebhookAlert, body []byte, sig string) error {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "respawn")
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", redact(w.URL), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("POST %s: %s: %s", redact(w.URL), resp.Status, strings.TrimSpace(string(snippet)))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return fmt.Errorf("%w: %w", errPermanent, err)
}

// redact keeps a URL's user info and query (where tokens often sit) out of
// the journal.
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i] + "?..."
	}
	if s, rest, ok := strings.Cut(u, "://"); ok {
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			u = s + "://...@" + rest[at+1:]
		}
	}
	return u
}

// readSecret reads a secret from its variable or its file, without the
// line end an editor leaves.
func readSecret(s config.Secret, lookupEnv func(string) (string, bool)) ([]byte, error) {
	if s.Env != "" {
		v, ok := lookupEnv(s.Env)
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return []byte(v), nil
	}
	f, err := os.Open(s.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.File, err)
	}
	if len(b) > maxSecret {
		return nil, fmt.Errorf("%s is larger than %d bytes", s.File, maxSecret)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", s.File)
	}
	return b, nil
}
