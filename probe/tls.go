package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

var tlsKind = KindDef{
	Schemes:  []Kind{KindTLS},
	Usage:    []Usage{{"tls://HOST:PORT", "a verified TLS handshake succeeds"}},
	ManTitle: "tls://HOST:PORT",
	Man: `A TLS handshake succeeds and the certificate verifies for HOST (against **ca=**, or the
system's roots). A certificate not valid yet, or expired, is reported with the system clock's
reading; while the kernel says the clock is not synchronised, the cause is **tls-clock**.
A handshake that stalls is tried again beside it with small segments: if that one passes, the
cause is **mtu-blackhole**. Parameters: **ca=**, **via=**, **src=**, **family=**.`,
	Authority: true,
	Complete:  []string{"tls://"},
	parse:     parseHostPort(KindTLS),
	format:    formatHostPort,
	probe:     probeTLS,
}

// caParam is ca=FILE, the CA certificates https and tls targets trust
// instead of the system's. Parse checks the name only; ParseAll reads the
// file.
var caParam = param{
	name:   "ca",
	kinds:  []Kind{KindHTTPS, KindTLS},
	syntax: "ca=FILE",
	help:   "trust the CA certificates (PEM) in FILE instead of the system's; FILE is read before probing starts",
	set: func(t *Target, v string) error {
		if v == "" {
			return errors.New("empty file name")
		}
		t.CA = v
		return nil
	},
	get: func(t Target) string { return t.CA },
}

// maxCAFile bounds what readCA reads: a bundle of every public CA is
// about 200 KiB; ca= naming a device or a huge file must not hang.
const maxCAFile = 4 << 20

// readCA reads a file of PEM certificates into a pool. It fails for a
// file that is not a regular file, is larger than maxCAFile, or holds no
// certificate.
func readCA(file string) (*x509.CertPool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", file)
	case fi.Size() > maxCAFile:
		return nil, fmt.Errorf("%s is larger than %d bytes", file, maxCAFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("no PEM certificate in %s", file)
	}
	return pool, nil
}

// probeTLS connects to the target and passes when a TLS handshake succeeds
// and the server's certificate verifies for the host name against the
// system roots (SSL_CERT_FILE and SSL_CERT_DIR are honoured).
func probeTLS(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	c, dests, local, err := env.connect(ctx, t, tm)
	if err != nil {
		return Result{Err: err, Phases: tm.snapshot(), Local: local, Dests: dests}
	}
	defer c.Close()
	roots := env.RootCAs
	if t.CA != "" {
		if roots, err = readCA(t.CA); err != nil {
			return Result{Err: fail(CauseOther, PhaseTLS, t.CA, fmt.Errorf("ca=: %w", err)), Phases: tm.snapshot(), Local: local}
		}
	}
	w := env.watch(ctx, c, t) // see mtu.go
	tc := tls.Client(w, tlsConfig(t.Host, roots))
	err = tc.HandshakeContext(ctx)
	tm.mark(PhaseTLS)
	res := Result{Phases: tm.snapshot(), Local: local, Dests: dests}
	if err != nil {
		res.Err = settleMTU(w, tlsError(ctx, env, err, time.Now()), "tls handshake")
		return res
	}
	settleMTU(w, nil, "")
	st := tc.ConnectionState()
	leaf := st.PeerCertificates[0]
	res.Detail = fmt.Sprintf("%s, certificate for %s valid until %s", tls.VersionName(st.Version),
		leafName(leaf), leaf.NotAfter.UTC().Format(time.DateOnly))
	if t.CA != "" {
		res.Detail += " (ca=" + t.CA + ")"
	}
	res.Detail += socketsOf(t).pathNote(addrOf(c.RemoteAddr()))
	return res
}

func tlsConfig(host string, roots *x509.CertPool) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}
}

func leafName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	if len(c.IPAddresses) > 0 {
		return c.IPAddresses[0].String()
	}
	return c.Subject.CommonName
}

// tlsError turns a handshake error into a precise Failure. A certificate
// whose validity period excludes now is, at boot before NTP has
// synchronised, most often a clock that is wrong. While the kernel says
// the clock is not synchronised (see clock:synced), such a certificate,
// not yet valid or expired, is cause tls-clock and its failure concerns
// the clock. While it is, a certificate not yet valid is still tls-clock
// (the clock may be synchronised to a wrong server) with a hint that says
// so, and an expired one is tls-expired.
func tlsError(ctx context.Context, env *Env, err error, now time.Time) error {
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == x509.Expired {
		c := ci.Cert
		what := fmt.Sprintf("is not valid until %s", c.NotBefore.UTC().Format(time.RFC3339))
		if !now.Before(c.NotBefore) {
			what = fmt.Sprintf("expired at %s", c.NotAfter.UTC().Format(time.RFC3339))
		}
		if clock, cerr := env.clockState(); cerr == nil && !clock.synced {
			return fail(CauseTLSClock, PhaseTLS, clockHop, fmt.Errorf("tls: certificate for %s %s, and the system clock, which reads %s, is not synchronised (adjtimex: %s)",
				leafName(c), what, now.UTC().Format(time.RFC3339), clock.describe()))
		}
		if now.Before(c.NotBefore) {
			return fail(CauseTLSClock, PhaseTLS, leafName(c), fmt.Errorf("tls: certificate for %s %s", leafName(c), what))
		}
		return fail(CauseTLSExpired, PhaseTLS, leafName(c), fmt.Errorf("tls: certificate for %s %s", leafName(c), what))
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		issuer := ua.Cert.Issuer.CommonName
		if issuer == "" { // say "O=Acme Co" rather than ""
			issuer = ua.Cert.Issuer.String()
		}
		return fail(CauseTLSUntrusted, PhaseTLS, issuer, fmt.Errorf("tls: certificate signed by an unknown authority (issuer %q)", issuer))
	}
	var hn x509.HostnameError
	if errors.As(err, &hn) {
		// Not err: its message starts with "tls: failed to verify
		// certificate: " already.
		return fail(CauseTLSNameMismatch, PhaseTLS, hn.Host, fmt.Errorf("tls: %w", hn))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil {
		return fail(CauseTimeout, PhaseTLS, "", fmt.Errorf("tls handshake: %w", ctxErr(ctx, context.DeadlineExceeded)))
	}
	if speaksHTTP(err) {
		return fail(CauseTLSFailed, PhaseTLS, "", fmt.Errorf("tls handshake: %w (the reply starts %q: plain HTTP)", err, httpStart(err)))
	}
	err = cleanNetError(ctx, err)
	c := CauseTLSFailed
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) {
		c = CauseReset
	}
	return fail(c, PhaseTLS, "", fmt.Errorf("tls handshake: %w", err))
}

// speaksHTTP reports whether err is a handshake that met a plain-HTTP
// server: the first bytes of its reply to the ClientHello are a status
// line ("HTTP/1.1 400 Bad Request") or, from a server that took the hello
// for an HTTP/0.9 request (Python's http.server), an HTML page.
func speaksHTTP(err error) bool {
	if errors.Is(err, http.ErrSchemeMismatch) {
		return true
	}
	s := strings.ToLower(httpStart(err))
	return strings.HasPrefix(s, "http/") || strings.HasPrefix(s, "<!doc") || strings.HasPrefix(s, "<html")
}

// httpStart is the start of a reply that was not a TLS record, if err is
// a handshake that met one.
func httpStart(err error) string {
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) {
		return ""
	}
	return string(rh.RecordHeader[:])
}

// plainHTTPHint is the hint of a handshake that met a plain-HTTP server.
func plainHTTPHint(f *Failure) string {
	if speaksHTTP(f.Err) {
		return "the port speaks plain HTTP, not TLS: use http://"
	}
	return ""
}

// isTLSError reports whether err came from the TLS layer: a failed
// verification, an alert from the peer, or a peer that does not speak TLS.
func isTLSError(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ae tls.AlertError
		rh tls.RecordHeaderError
	)
	return errors.As(err, &cv) || errors.As(err, &ae) || errors.As(err, &rh)
}
