package alerts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// emailSender sends the alert by SMTP: STARTTLS first (required unless
// turned off), then AUTH PLAIN when a username is set.
func emailSender(e *config.EmailAlert, lookupEnv func(string) (string, bool), host string) (func(context.Context, api.Alert) (int, error), error) {
	subject, err := template.New("subject").Option("missingkey=error").Parse(e.Subject)
	if err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	body, err := template.New("body").Option("missingkey=error").Parse(e.Body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	var roots *x509.CertPool
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: no PEM certificate in %s", e.CAFile)
		}
	}
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	var to []*mail.Address
	for _, s := range e.To {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("to: %w", err)
		}
		to = append(to, a)
	}
	serverHost, _, _ := net.SplitHostPort(e.Server)
	return func(ctx context.Context, a api.Alert) (int, error) {
		var subj, text bytes.Buffer
		if err := subject.Execute(&subj, a); err != nil {
			return 0, fmt.Errorf("subject template: %w", err)
		}
		if err := body.Execute(&text, a); err != nil {
			return 0, fmt.Errorf("body template: %w", err)
		}
		msg := message(from, to, strings.ReplaceAll(subj.String(), "\n", " "), text.String(), a.Time, host)
		ctx, cancel := context.WithTimeout(ctx, e.Timeout)
		defer cancel()
		var password string
		if e.Username != "" && !e.Password.IsZero() {
			p, err := readSecret(e.Password, lookupEnv)
			if err != nil {
				return 0, fmt.Errorf("email password: %w", err)
			}
			password = string(p)
		}
		err := sendMail(ctx, e, serverHost, roots, password, from.Address, to, msg, host)
		return 1, err
	}, nil
}

func sendMail(ctx context.Context, e *config.EmailAlert, serverHost string, roots *x509.CertPool, password, from string, to []*mail.Address, msg []byte, host string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.Server)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", e.Server, err)
	}
	// net/smtp takes no context: the deadline bounds every exchange, and
	// closing the connection ends one in progress when ctx ends first.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, serverHost)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", e.Server, err)
	}
	defer c.Close()
	if err := smtpSteps(c, e, serverHost, roots, password, from, to, msg, host); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("smtp %s: %w (%w)", e.Server, err, context.Cause(ctx))
		}
		return fmt.Errorf("smtp %s: %w", e.Server, err)
	}
	return nil
}

func smtpSteps(c *smtp.Client, e *config.EmailAlert, serverHost string, roots *x509.CertPool, password, from string, to []*mail.Address, msg []byte, host string) error {
	if err := c.Hello(heloName(host)); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if e.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS (set starttls: false to send unencrypted, without a password)")
		}
		if err := c.StartTLS(&tls.Config{ServerName: serverHost, RootCAs: roots, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if e.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.Username, password, serverHost)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, a := range to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}

// heloName is this host's name as EHLO wants it: a domain without spaces.
func heloName(host string) string {
	if host == "" || strings.ContainsAny(host, " \t\r\n") {
		return "localhost"
	}
	return host
}

// message builds the mail: headers (the subject encoded when it is not
// ASCII) and the body as UTF-8 text. Line ends become CRLF in DATA.
func message(from *mail.Address, to []*mail.Address, subject, body string, at time.Time, host string) []byte {
	var b bytes.Buffer
	tos := make([]string, len(to))
	for i, a := range to {
		tos[i] = a.String()
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	fmt.Fprintf(&b, "From: %s\n", from.String())
	fmt.Fprintf(&b, "To: %s\n", strings.Join(tos, ", "))
	fmt.Fprintf(&b, "Subject: %s\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\n", at.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\n", hex.EncodeToString(id), heloName(host))
	b.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\n\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\n")
	}
	return b.Bytes()
}
