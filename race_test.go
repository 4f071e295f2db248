//go:build race

package main

// raceEnabled: this test binary, which is also the netready the tests run,
// is built with -race.
const raceEnabled = true
