package netwatch

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/fsnotify/fsnotify"
)

// maxHops bounds how many symbolic links are followed, as the kernel's
// MAXSYMLINKS does.
const maxHops = 40

// fileWatcher reports changes of one file's contents, however the file is
// replaced: written in place, renamed over (NetworkManager, resolvconf), or
// reached through a symbolic link that is switched to another target or
// whose target is rewritten or appears late (systemd-resolved's
// /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf).
//
// It watches directories — an inotify watch on a file is lost when the file
// is renamed over — namely the directory of every hop of the symlink chain,
// or the nearest existing ancestor of a directory that does not exist yet;
// and the file at the end of the chain too, for a bind-mounted one. After
// each relevant event the chain is followed again, the watches renewed,
// and the contents compared, so an event is reported only for a real
// change.
type fileWatcher struct {
	path    string
	fsw     *fsnotify.Watcher
	log     *slog.Logger
	watched map[string]fileID // watched paths, and which files they were
	names   []string          // every path of the symlink chain
	content []byte            // last contents; nil if the file did not exist
}

func newFileWatcher(path string, log *slog.Logger) (*fileWatcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		fsw.Close()
		return nil, err
	}
	fw := &fileWatcher{path: abs, fsw: fsw, log: log, watched: map[string]fileID{}}
	fw.rewatch()
	fw.content = readOrNil(abs)
	return fw, nil
}

func readOrNil(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// chain lists the paths from fw.path through each symlink hop.
func (fw *fileWatcher) chain() []string {
	var names []string
	p := fw.path
	for range maxHops {
		names = append(names, p)
		target, err := os.Readlink(p)
		if err != nil {
			break // not a link, or not there
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
	return names
}

// rewatch follows the chain again and watches the paths it needs.
//
// Looking and watching are not one atomic step: a directory or link
// created after the look but before the watch on its parent is in place
// would go unseen (a target directory made, then the file written into it,
// in that window, was missed about once in 400 times). So it looks again
// after adding watches, until a look needs no new one: every directory that
// look relied on was watched before it was taken, and any later change
// raises an event.
func (fw *fileWatcher) rewatch() {
	var want map[string]fileID
	for range maxHops {
		fw.names = fw.chain()
		want = fw.wanted()
		added := false
		for d, id := range want {
			old, watched := fw.watched[d]
			if watched && old == id {
				continue
			}
			if watched {
				// Another file or directory by that name now (the one
				// watched was removed or renamed away): its watch says
				// nothing of this one.
				fw.fsw.Remove(d)
				delete(fw.watched, d)
			}
			if err := fw.fsw.Add(d); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					added = true // gone since the look: look again
				} else {
					fw.log.Warn("cannot watch directory", "dir", d, "error", err)
				}
				continue
			}
			fw.watched[d] = id
			added = true
		}
		if !added {
			break
		}
	}
	for d := range fw.watched {
		if _, ok := want[d]; !ok {
			fw.fsw.Remove(d)
			delete(fw.watched, d)
		}
	}
}

// fileID tells one file or directory from another that later takes its
// name.
type fileID struct{ dev, ino uint64 }

func idOf(st os.FileInfo) fileID {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(sys.Dev), sys.Ino}
	}
	return fileID{}
}

// wanted lists the paths to watch for fw.names: each one's directory, or
// its nearest existing ancestor while that does not exist; and the file at
// the end of the chain itself, if it exists. Events of a file written in
// place reach its directory's watch — except when the file is bind-mounted
// (as ip netns exec, nspawn, Docker and Podman provide /etc/resolv.conf):
// they then go to the directory the file really is in, and only a watch on
// the file itself sees them.
func (fw *fileWatcher) wanted() map[string]fileID {
	want := map[string]fileID{}
	for _, n := range fw.names {
		dir := filepath.Dir(n)
		var id fileID
		for {
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				id = idOf(st)
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
		want[dir] = id
	}
	if last := fw.names[len(fw.names)-1]; last != "" {
		if st, err := os.Stat(last); err == nil && !st.IsDir() {
			want[last] = idOf(st)
		}
	}
	return want
}

// relevant reports whether an event on name can concern the file: it is a
// path of the chain, or a directory on the way to one.
func (fw *fileWatcher) relevant(name string) bool {
	for _, n := range fw.names {
		if name == n || strings.HasPrefix(n, name+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// run delivers a call to changed for each change of contents until ctx
// ends.
func (fw *fileWatcher) run(ctx context.Context, changed func()) {
	defer fw.fsw.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fw.fsw.Events:
			if !ok {
				return
			}
			if !fw.relevant(ev.Name) {
				continue
			}
			if _, ok := fw.watched[ev.Name]; ok && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				// A watched file or directory went away. Its watch is
				// gone or useless, and one made in its place may even
				// have its inode number: watch whatever is there afresh.
				fw.fsw.Remove(ev.Name)
				delete(fw.watched, ev.Name)
			}
		case err, ok := <-fw.fsw.Errors:
			if !ok {
				return
			}
			// An inotify queue overflow loses events: look again.
			fw.log.Warn("watching resolver configuration", "path", fw.path, "error", err)
		}
		fw.rewatch()
		now := readOrNil(fw.path)
		if (now == nil) != (fw.content == nil) || !bytes.Equal(now, fw.content) {
			fw.content = now
			changed()
		}
	}
}

// fileState is what a file was at one look: the path of every hop of its
// symbolic link chain, the file at its end (which one, and when its inode
// last changed) and its contents. Two looks that differ in any of these
// saw a change in between; the identity and change time catch a file
// rewritten and then restored to what it held.
type fileState struct {
	names   []string
	id      fileID
	ctime   syscall.Timespec
	content []byte // nil if the file did not exist
}

func stateOf(path string) fileState {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fileState{}
	}
	fw := &fileWatcher{path: abs}
	s := fileState{names: fw.chain()}
	if st, err := os.Stat(abs); err == nil {
		s.id = idOf(st)
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			s.ctime = sys.Ctim
		}
	}
	s.content = readOrNil(abs)
	return s
}

func (s fileState) same(o fileState) bool {
	return slices.Equal(s.names, o.names) && s.id == o.id && s.ctime == o.ctime &&
		(s.content == nil) == (o.content == nil) && bytes.Equal(s.content, o.content)
}
