// Command netready waits until the network is actually usable: a link with
// an address, a route, a DNS resolver that answers, remote endpoints that
// respond. See README.md and netready(8); the command line is package cli.
package main

import (
	"os"

	"github.com/netready/netready/cli"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	os.Exit(cli.Main(cli.Build{Version: version, Commit: commit}, os.Args, os.Stdout, os.Stderr))
}
