package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// probeTLS connects to the target and passes when a TLS handshake succeeds
// and the server's certificate verifies for the host name against the
// system roots (SSL_CERT_FILE and SSL_CERT_DIR are honoured).
func probeTLS(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	c, local, err := env.connect(ctx, t, tm)
	if err != nil {
		return Result{Err: err, Phases: tm.snapshot(), Local: local}
	}
	defer c.Close()
	tc := tls.Client(c, tlsConfig(t.Host, env.RootCAs))
	err = tc.HandshakeContext(ctx)
	tm.mark("tls")
	res := Result{Phases: tm.snapshot(), Local: local}
	if err != nil {
		res.Err, res.Hint = tlsError(ctx, err, time.Now())
		return res
	}
	st := tc.ConnectionState()
	leaf := st.PeerCertificates[0]
	res.Detail = fmt.Sprintf("%s, certificate for %s valid until %s", tls.VersionName(st.Version),
		leafName(leaf), leaf.NotAfter.UTC().Format(time.DateOnly))
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

// tlsError turns a handshake error into a precise message and, when the
// certificate's validity period excludes now, a hint that the clock may be
// wrong: at boot, before NTP has synchronised, this is the usual cause.
func tlsError(ctx context.Context, err error, now time.Time) (error, string) {
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == x509.Expired {
		c := ci.Cert
		clock := "system clock reads " + now.UTC().Format(time.RFC3339)
		if now.Before(c.NotBefore) {
			return fmt.Errorf("tls: certificate for %s is not valid until %s", leafName(c), c.NotBefore.UTC().Format(time.RFC3339)),
				"the " + clock + ": is the clock wrong (NTP not synchronised yet)?"
		}
		return fmt.Errorf("tls: certificate for %s expired at %s", leafName(c), c.NotAfter.UTC().Format(time.RFC3339)),
			"the " + clock + ": if the certificate is still current, the clock is wrong"
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		issuer := ua.Cert.Issuer.CommonName
		if issuer == "" { // say "O=Acme Co" rather than ""
			issuer = ua.Cert.Issuer.String()
		}
		return fmt.Errorf("tls: certificate signed by an unknown authority (issuer %q)", issuer),
			"add the CA to the system trust store, or point SSL_CERT_FILE at it"
	}
	var hn x509.HostnameError
	if errors.As(err, &hn) {
		// Not err: its message starts with "tls: failed to verify
		// certificate: " already.
		return fmt.Errorf("tls: %w", hn), ""
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil {
		return fmt.Errorf("tls handshake: %w", ctxErr(ctx, context.DeadlineExceeded)), ""
	}
	return fmt.Errorf("tls handshake: %w", cleanNetError(ctx, err)), ""
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
