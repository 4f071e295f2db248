package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

func versionCommand(b Build, s *streams) *cli.Command {
	return &cli.Command{
		Name:        cmdVersion,
		Usage:       "print the version, commit and Go version",
		Description: "Prints netready's version, the commit it was built from, and the Go version, OS and architecture it was built with, on one line.",
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usage(fmt.Errorf("version takes no arguments, got %q", c.Args().First()))
			}
			return printVersion(b, s)
		},
	}
}

// printVersion is what netready version and netready --version print.
func printVersion(b Build, s *streams) error {
	_, err := fmt.Fprintf(s.stdout, "netready %s (commit %s, %s %s/%s)\n", b.Version, b.commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

// commit is the commit stamped at link time, else the one the Go
// toolchain recorded, else "unknown".
func (b Build) commit() string {
	if b.Commit != "" {
		return b.Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
