// Package gate decides readiness from probe outcomes and, in later work,
// runs the wait loop. It never imports networking packages: it sees only
// outcomes, so its logic can be tested with plain values.
package gate

// Ready is the readiness policy: every target passes, or with any at least
// one does. No targets is never ready, since nothing was shown to work.
func Ready(ok []bool, any bool) bool {
	if len(ok) == 0 {
		return false
	}
	for _, o := range ok {
		if o == any {
			return any
		}
	}
	return !any
}
