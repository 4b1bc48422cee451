package alerts

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
)

// smtpPython finds a python3 that has aiosmtpd (python3-aiosmtpd in CI).
func smtpPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import aiosmtpd").Run() == nil {
			return py
		}
	}
	t.Skip("no python3 with aiosmtpd (Debian: apt-get install python3-aiosmtpd)")
	return ""
}

// testCert writes a self-signed certificate for 127.0.0.1 and its key.
func testCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "respawn test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startSMTP runs testdata/smtpd.py and returns its address and the
// directory its messages land in. cert "plain" serves without TLS or auth.
func startSMTP(t *testing.T, cert, key string) (addr, outDir string) {
	t.Helper()
	py := smtpPython(t)
	outDir = t.TempDir()
	cmd := exec.Command(py, "testdata/smtpd.py", cert, key, outDir, "alerts", "s3cret")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Its traceback of a refused handshake is expected: shown only when
	// the test fails.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("SMTP server's stderr:\n%s", stderr.String())
		}
	})
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		port <- strings.TrimSpace(line)
	}()
	select {
	case p := <-port:
		if p == "" {
			t.Fatal("the SMTP server did not start")
		}
		return net.JoinHostPort("127.0.0.1", p), outDir
	case <-time.After(20 * time.Second):
		t.Fatal("the SMTP server did not say its port within 20s")
	}
	return "", ""
}

func TestEmailSTARTTLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key := testCert(t, dir)
	addr, out := startSMTP(t, cert, key)
	pwFile := filepath.Join(dir, "smtp.password")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &config.EmailAlert{Server: addr, From: "Respawn <respawn@example.com>", To: []string{"ops@example.com", "dev@example.com"},
		Username: "alerts", Password: config.Secret{File: pwFile}, StartTLS: true, CAFile: cert,
		Subject: "[{{.Host}}] {{.Service}} {{.Trigger}} ✗", Body: config.DefaultEmailBody, Timeout: 10 * time.Second}
	send, err := emailSender(e, nil, "host.test")
	if err != nil {
		t.Fatal(err)
	}
	if tries, err := send(t.Context(), testAlert()); err != nil || tries != 1 {
		t.Fatalf("send = %d, %v", tries, err)
	}
	data, err := os.ReadFile(filepath.Join(out, "0.eml"))
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.ReplaceAll(string(data), "\r\n", "\n")
	for _, want := range []string{
		"X-Mail-From: respawn@example.com\n",
		"X-Rcpt-To: ops@example.com,dev@example.com\n",
		"X-Authenticated: True\n",
		"X-TLS: True\n",
		"From: \"Respawn\" <respawn@example.com>\n",
		"To: <ops@example.com>, <dev@example.com>\n",
		"Subject: =?utf-8?q?[h]_db_failed_=E2=9C=97?=\n",
		"\n\ndb entered failed: exit status 1\n\nrule: r\ntrigger: failed\nservice: db\nhost: h\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}

	// A wrong password is refused by the server, and said so.
	if err := os.WriteFile(pwFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t.Context(), testAlert()); err == nil || !strings.Contains(err.Error(), "AUTH: 535") {
		t.Errorf("wrong password: %v", err)
	}
	// A certificate nobody vouches for is refused before the password goes out.
	e.CAFile = ""
	send, err = emailSender(e, nil, "host.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send(t.Context(), testAlert()); err == nil || !strings.Contains(err.Error(), "STARTTLS: tls: failed to verify certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
}

func TestEmailNoSTARTTLS(t *testing.T) {
	addr, out := startSMTP(t, "plain", "-")
	e := &config.EmailAlert{Server: addr, From: "respawn@example.com", To: []string{"ops@example.com"}, StartTLS: true,
		Subject: config.DefaultEmailSubject, Body: config.DefaultEmailBody, Timeout: 10 * time.Second}
	send, err := emailSender(e, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send(t.Context(), testAlert()); err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Errorf("required STARTTLS missing: %v", err)
	}
	// Turned off on purpose, it sends in the clear (and has no password to leak).
	e.StartTLS = false
	send, err = emailSender(e, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send(t.Context(), testAlert()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "0.eml"))
	if err != nil || !strings.Contains(string(data), "Subject: [respawn] failed db: db entered failed: exit status 1") {
		t.Errorf("message: %s (%v)", data, err)
	}
}
