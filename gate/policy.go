// Package gate decides readiness from probe outcomes and runs the one loop
// of rounds that both wait and watch use: when to probe which target, what
// a network change does to a round in flight, when the policy holds. It
// never imports networking packages: it sees probe outcomes, a schedule and
// a channel of change events, so it is tested with fakes on a fake clock.
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
