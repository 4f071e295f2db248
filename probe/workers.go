package probe

import "sync"

// workers runs a round's attempts on goroutines kept from earlier rounds.
//
// A fresh goroutine starts with a small stack; an attempt that lists
// routes or links grows it to over 64 KiB (netlink's receive buffer lives
// on the stack), and copying the stack as it grows was a sixth of the CPU
// time of "netready wait" re-checking a local target every 250 ms. A kept
// goroutine keeps its grown stack until the garbage collector shrinks it.
type workers struct {
	tasks chan func()
	mu    sync.Mutex
	idle  int // goroutines waiting on tasks
}

// maxIdleWorkers bounds the goroutines kept between rounds; rounds of more
// targets start the rest afresh.
const maxIdleWorkers = 32

var pool = workers{tasks: make(chan func())}

// Go runs f on an idle kept goroutine, or on a new one.
func (w *workers) Go(f func()) {
	select {
	case w.tasks <- f:
	default:
		go w.run(f)
	}
}

func (w *workers) run(f func()) {
	for {
		f()
		w.mu.Lock()
		if w.idle >= maxIdleWorkers {
			w.mu.Unlock()
			return
		}
		w.idle++
		w.mu.Unlock()
		f = <-w.tasks
		w.mu.Lock()
		w.idle--
		w.mu.Unlock()
	}
}
