// Command idlefloor is the baseline of BenchmarkIdle: the least a Go
// process that re-checks a local TCP endpoint every 250 ms costs, with none
// of netready's work around it — a ticker, one dial with a deadline, and
// nothing else. Run it as "idlefloor ADDR:PORT"; it never exits by itself.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: idlefloor ADDR:PORT")
		os.Exit(2)
	}
	t := time.NewTicker(250 * time.Millisecond)
	for range t.C {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var d net.Dialer
		if c, err := d.DialContext(ctx, "tcp", os.Args[1]); err == nil {
			c.Close()
		}
		cancel()
	}
}
