package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TextfileRefresh is how old the textfile may grow before a round that
// changed nothing but latencies rewrites it. A round that changes
// anything else rewrites it at once; one that changes nothing (a target
// on the host re-checked every 250ms) does not touch it more often than
// this. node_exporter reports the file's age (node_textfile_mtime_seconds),
// so a fresh file also says that netready is still running.
const TextfileRefresh = 10 * time.Second

// Textfile writes an Exporter's metrics to a file for node_exporter's
// textfile collector. Only netready's own metrics are written, not the Go
// and process collectors': node_exporter serves its own under the same
// names, and refuses a textfile that repeats them.
type Textfile struct {
	path  string
	reg   *prometheus.Registry
	last  time.Time // of the last write that succeeded
	dirty bool      // a change is not in the file yet: a write failed
}

// NewTextfile returns the writer of e's metrics to path, which should end
// in .prom: node_exporter reads no other file.
func NewTextfile(e *Exporter, path string) *Textfile {
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	return &Textfile{path: path, reg: reg}
}

// Write writes the file now, atomically: to a temporary file in the same
// directory (whose name does not end in .prom, so node_exporter never
// reads it half-written), made readable by everyone (mode 0644, set with
// chmod whatever the umask: node_exporter runs as another user), then
// renamed over path.
func (t *Textfile) Write(now time.Time) error {
	// client_golang's WriteToTextfile is that sequence exactly.
	if err := prometheus.WriteToTextfile(t.path, t.reg); err != nil {
		return err
	}
	t.last, t.dirty = now, false
	return nil
}

// AfterRound writes the file after a round that ended at now if the round
// changed something (see Exporter.Update), if a change is not in the file
// yet (a write failed), or if the file is TextfileRefresh old; wrote says
// whether it tried.
func (t *Textfile) AfterRound(changed bool, now time.Time) (wrote bool, err error) {
	t.dirty = t.dirty || changed
	if !t.dirty && now.Sub(t.last) < TextfileRefresh {
		return false, nil
	}
	if err := t.Write(now); err != nil {
		t.dirty = true
		return true, err
	}
	return true, nil
}

// Path is the file written.
func (t *Textfile) Path() string { return t.path }
