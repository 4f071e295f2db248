package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sys/unix"

	"github.com/netready/netready/report"
)

// DefaultPort is netready's metrics port, the one netready-watch.service
// listens on (127.0.0.1:10213). Prometheus's list of default port
// allocations filled the 9100-9999 range its exporters started with, and
// goes on above 10000; 10213 is free there, and echoes the 10.213.0.0/16
// of netready's test labs.
const DefaultPort = 10213

// CheckAddress checks a --metrics-listen value: HOST:PORT, where HOST is an
// IP address, "localhost" or empty (every address of the host), and PORT
// is from 1 to 65535. Names other than localhost are refused: the
// listener starts at boot, when the resolver they would need may not
// answer yet.
func CheckAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want ADDRESS:PORT, e.g. 127.0.0.1:%d or [::1]:%d: %w", DefaultPort, DefaultPort, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", port)
	}
	if host == "" || host == "localhost" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("%q is not an IP address (names other than localhost are not resolved)", host)
	}
	return nil
}

// Listen opens the metrics listener on addr (see CheckAddress). The
// socket is bound with IP_FREEBIND, so an address this host does not have
// yet (one DHCP will bring) is not an error: connections are accepted once
// it appears. Present reports whether addr's IP is an address of this
// host now (true for an unspecified or loopback one).
func Listen(ctx context.Context, addr string) (ln net.Listener, present bool, err error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// IP_FREEBIND at level SOL_IP applies to IPv6 sockets too.
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("setsockopt IP_FREEBIND: %w", serr)
		}
		return nil
	}}
	ln, err = lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return ln, isLocal(ln.Addr()), nil
}

// isLocal reports whether a's IP is unspecified, loopback, or an address
// of one of this host's interfaces.
func isLocal(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return true
	}
	if ta.IP.IsUnspecified() || ta.IP.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: say nothing
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok && n.IP.Equal(ta.IP) {
			return true
		}
	}
	return false
}

// Handler serves e:
//   - /metrics: its metrics, with client_golang's Go and process
//     collectors, in whichever exposition format the scraper asks for;
//   - /ready: 200 while e's state is ready, else 503, with a text body
//     naming each failing target and its cause;
//   - /: a page that says so.
//
// Errors of the metrics handler go to log.
func Handler(e *Exporter, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	// prometheus.NewGoCollector and NewProcessCollector, not their
	// successors in client_golang's collectors package: that package
	// also brings database/sql, whose init every netready command would
	// pay.
	reg.MustRegister(e, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: errorLog{log},
		// Scrapes arrive a few at a time; more at once means something
		// else is hammering the port.
		MaxRequestsInFlight: 8,
	}))
	mux.HandleFunc("GET /ready", e.serveReady)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "netready watch\n\n/metrics  Prometheus metrics\n/ready    200 while the network is ready; 503, with the failing targets and their causes, while not\n")
	})
	return mux
}

// errorLog is promhttp's error logger, on slog.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) { l.log.Warn("metrics", "error", fmt.Sprint(v...)) }

// serveReady is /ready.
func (e *Exporter) serveReady(w http.ResponseWriter, _ *http.Request) {
	s := e.snapshot()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !s.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	io.WriteString(w, ReadyText(s))
}

// ReadyText is /ready's body for s: "ready" or "not ready: WHY", then one
// line per failing target, "TARGET CAUSE: ERROR" (targets and causes
// contain no spaces).
func ReadyText(s State) string {
	var b strings.Builder
	fails, probed := 0, 0
	for _, t := range s.Targets {
		if t.Probed {
			probed++
		}
		if t.Probed && !t.OK {
			fails++
		}
	}
	switch {
	case s.Ready:
		b.WriteString("ready\n")
	case probed < len(s.Targets):
		fmt.Fprintf(&b, "not ready: %d of %d targets %s\n", len(s.Targets)-probed, len(s.Targets), report.NotProbed)
	case s.Settling:
		b.WriteString("not ready: every target passes; settling\n")
	default:
		fmt.Fprintf(&b, "not ready: %d of %d targets fail\n", fails, len(s.Targets))
	}
	for _, t := range s.Targets {
		if t.Probed && !t.OK {
			fmt.Fprintf(&b, "%s %s: %s\n", t.Name, t.Cause, t.Err)
		}
	}
	return b.String()
}

// Limits of the metrics server: a scrape or a probe of /ready is one small
// request without a body; a client that takes longer to send one, or
// sends more, is gone or hostile. Slow or abusive clients hold at most
// maxConns connections, and never delay a transition: the server runs on
// goroutines of its own, and watch's loop never waits for it.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second // the request whole
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute // above any sensible scrape interval
	// maxHeaderBytes is the most a request's headers may take (net/http
	// adds 4 KiB of slack): a scrape's take a few hundred bytes.
	maxHeaderBytes = 16 << 10
	// maxConns is how many connections are open at once: enough for a
	// few Prometheus servers, load balancers and people; one more takes
	// the place of the one that has waited longest for a request (see
	// connLimit).
	maxConns        = 64
	shutdownTimeout = time.Second // for requests in flight when watch stops
)

// Serve serves h on ln in the background until stop is called, which
// closes ln, lets requests in flight finish (a second at most) and
// returns once the server is down. webConfig, if not empty, is the path of
// a web configuration file in prometheus/exporter-toolkit's format (TLS,
// client certificates, basic auth), read again for every connection and
// request so that a change applies at once; CheckWebConfig checks it.
func Serve(ln net.Listener, h http.Handler, webConfig string, log *slog.Logger) (stop func()) {
	lim := newConnLimit(ln, maxConns)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         lim.track,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if webConfig == "" {
			err = srv.Serve(lim)
		} else {
			err = web.Serve(lim, srv, &web.FlagConfig{WebConfigFile: &webConfig}, log)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "address", ln.Addr().String(), "error", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}
}

// CheckWebConfig checks a web configuration file (see Serve): that it
// reads, parses, names certificate and key files that load and bcrypt
// password hashes.
func CheckWebConfig(path string) error {
	return web.Validate(path)
}
