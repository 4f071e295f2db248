// Package netwatch tells when the network may have changed: a link, address
// or route change reported by the kernel over netlink (IPv4 and IPv6), or a
// change of the resolver configuration file. It does not say what changed:
// its user probes again. It is not a cache of network state.
//
// Changes are coalesced by a pump into a channel of capacity 1 with
// non-blocking sends: the first change of a burst is delivered at once, and
// however many follow while the reader is busy, one more event is pending
// at most. The reader bounds how often it acts on them.
package netwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Options configures a Watcher.
type Options struct {
	// Netlink subscribes to kernel link, address and route changes. When the
	// kernel (or a sandbox) refuses the subscription, the Watcher carries on
	// without, and logs that once.
	Netlink bool
	// ResolvConf is the resolver configuration file to watch; empty for
	// none.
	ResolvConf string
	// ResolvConfDelay, when positive, defers watching ResolvConf until
	// that long after Start, or the first call of WatchResolvConf if that
	// comes sooner. Start then only notes what the file holds, and a file
	// that differs when the watch begins is reported as an event at once,
	// so no change in between is lost, only seen later. A process that is
	// done sooner never makes an inotify instance: releasing one with
	// watches costs a process an SRCU grace period in the kernel (5 ms
	// typically, up to 20), at close or at exit.
	ResolvConfDelay time.Duration
	// NetNS is the network namespace to watch; nil means the current one.
	NetNS *netns.NsHandle
	// RcvBuf, if positive, sets the netlink socket's receive buffer size in
	// bytes (SO_RCVBUFFORCE); tests use a small one to provoke ENOBUFS.
	RcvBuf int
	// beforeReceive, if set, is called before each read of the netlink
	// socket: a test holds the reader there while the kernel fills the
	// buffer.
	beforeReceive func()
	// Logger receives warnings (a refused subscription, a lost one); never
	// nil.
	Logger *slog.Logger
}

// Watcher delivers change events until closed.
type Watcher struct {
	events chan struct{}
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	netlinkActive atomic.Bool
	fileActive    atomic.Bool
	ctx           context.Context
	resolvConf    string
	fileOnce      sync.Once
	fileBase      fileState   // ResolvConf as Start saw it, for a deferred watch
	fileTimer     *time.Timer // starts a deferred watch
	closeMu       sync.Mutex
	closed        bool
	overruns      atomic.Int64 // netlink receive buffer overruns (ENOBUFS)
	sock          atomic.Pointer[nl.NetlinkSocket]
}

// groups are the rtnetlink multicast groups watched: "ip monitor link
// address route" for both families.
var groups = []uint{
	unix.RTNLGRP_LINK,
	unix.RTNLGRP_IPV4_IFADDR,
	unix.RTNLGRP_IPV6_IFADDR,
	unix.RTNLGRP_IPV4_ROUTE,
	unix.RTNLGRP_IPV6_ROUTE,
}

// resubscribeDelay is how long to wait before subscribing again after the
// socket failed with something other than an overrun, so that a broken
// socket cannot make the watcher spin.
const resubscribeDelay = 100 * time.Millisecond

// Start subscribes before it returns, so that no change after Start is
// missed: call it before the first look at the network. Close stops it.
//
// What cannot be watched is not an error: a netlink subscription that the
// kernel or a sandbox refuses, or a resolver configuration that inotify
// cannot watch (its limits reached, or no inotify at all), is logged once
// as a warning, and the Watcher carries on with what it has. Its user then
// re-probes on its schedule alone, which is slower, not wrong.
func Start(opts Options) *Watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{events: make(chan struct{}, 1), log: opts.Logger, cancel: cancel, ctx: ctx, resolvConf: opts.ResolvConf}
	if opts.Netlink {
		s, err := subscribe(opts)
		if err != nil {
			w.log.Warn("netlink subscription refused: re-probing on the backoff schedule only", "error", err)
		} else {
			w.netlinkActive.Store(true)
			// Stored before the reader starts, so that a Close right after
			// Start finds the socket to close and wakes the reader.
			w.sock.Store(s)
			w.wg.Go(func() { w.readNetlink(ctx, s, opts) })
		}
	}
	if opts.ResolvConf != "" {
		if opts.ResolvConfDelay > 0 {
			w.fileBase = stateOf(opts.ResolvConf)
			// Set under the lock WatchResolvConf reads it under: the
			// timer may fire before AfterFunc's caller goes on.
			w.closeMu.Lock()
			w.fileTimer = time.AfterFunc(opts.ResolvConfDelay, w.WatchResolvConf)
			w.closeMu.Unlock()
		} else {
			w.WatchResolvConf()
		}
	}
	return w
}

// WatchResolvConf starts watching the resolver configuration file, if
// Options.ResolvConf names one and it is not watched yet. With
// ResolvConfDelay, a file that changed since Start is reported as an event
// at once. It is safe to call from any goroutine, any number of times, and
// does nothing once Close has begun.
func (w *Watcher) WatchResolvConf() {
	if w.resolvConf == "" {
		return
	}
	w.fileOnce.Do(func() {
		w.closeMu.Lock()
		defer w.closeMu.Unlock()
		if w.closed {
			return
		}
		fw, err := newFileWatcher(w.resolvConf, w.log)
		if err != nil {
			w.log.Warn("cannot watch the resolver configuration: re-probing on the backoff schedule only", "file", w.resolvConf, "error", err)
			return
		}
		w.fileActive.Store(true)
		if w.fileTimer != nil && !w.fileBase.same(stateOf(w.resolvConf)) {
			w.pump()
		}
		w.wg.Go(func() { fw.run(w.ctx, w.pump) })
	})
}

// Events returns the channel of change events. It is never closed.
func (w *Watcher) Events() <-chan struct{} { return w.events }

// Netlink reports whether kernel changes are being watched.
func (w *Watcher) Netlink() bool { return w.netlinkActive.Load() }

// ResolvConf reports whether the resolver configuration file is being
// watched.
func (w *Watcher) ResolvConf() bool { return w.fileActive.Load() }

// Overruns reports how many times the kernel dropped netlink messages
// because the socket's buffer was full (ENOBUFS).
func (w *Watcher) Overruns() int64 { return w.overruns.Load() }

// Close stops watching and waits for every goroutine to end.
func (w *Watcher) Close() {
	w.closeMu.Lock()
	w.closed = true
	w.closeMu.Unlock()
	if w.fileTimer != nil {
		w.fileTimer.Stop()
	}
	w.cancel()
	if s := w.sock.Load(); s != nil {
		s.Close() // wakes a blocked Receive
	}
	w.wg.Wait()
}

// pump signals a change without ever blocking: if an event is already
// pending, this one is folded into it.
func (w *Watcher) pump() {
	select {
	case w.events <- struct{}{}:
	default:
	}
}

func subscribe(opts Options) (*nl.NetlinkSocket, error) {
	var (
		s   *nl.NetlinkSocket
		err error
	)
	if opts.NetNS != nil {
		s, err = nl.SubscribeAt(*opts.NetNS, netns.None(), unix.NETLINK_ROUTE, groups...)
	} else {
		s, err = nl.Subscribe(unix.NETLINK_ROUTE, groups...)
	}
	if err != nil {
		return nil, err
	}
	if opts.RcvBuf > 0 {
		if err := s.SetReceiveBufferSize(opts.RcvBuf, true); err != nil {
			s.Close()
			return nil, fmt.Errorf("set netlink receive buffer: %w", err)
		}
	}
	return s, nil
}

// readNetlink turns every netlink message into an event. An overrun
// (ENOBUFS: the kernel dropped messages) is itself an event, since what was
// lost is unknown and the state must be read again; the socket stays
// usable. Any other error replaces the socket with a new subscription.
func (w *Watcher) readNetlink(ctx context.Context, s *nl.NetlinkSocket, opts Options) {
	defer func() { w.sock.Load().Close() }()
	for {
		if opts.beforeReceive != nil {
			opts.beforeReceive()
		}
		msgs, _, err := s.Receive()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			if len(msgs) > 0 {
				w.pump()
			}
			continue
		case errors.Is(err, unix.ENOBUFS):
			w.overruns.Add(1)
			w.pump()
			continue
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue
		}
		w.log.Warn("netlink subscription failed; subscribing again", "error", err)
		s.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(resubscribeDelay):
			}
			ns, err := subscribe(opts)
			if err == nil {
				s = ns
				w.sock.Store(s)
				if ctx.Err() != nil { // Close ran between Store and here
					return
				}
				w.pump() // changes may have been missed in between
				break
			}
			w.log.Warn("netlink subscription refused", "error", err)
		}
	}
}
