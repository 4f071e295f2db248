package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// envBoolFlag is a boolean flag whose NETREADY_* variable reads as files in
// /etc/default write it: 1/0, true/false, yes/no, on/off (any case), where
// urfave/cli would take only what strconv.ParseBool does. An empty value
// is false, as urfave/cli has it. On the command line, --flag=VALUE takes
// what Go's flag package does.
type envBoolFlag struct{ cli.BoolFlag }

// boolFlag is a boolean flag set by the variable env; aliases are its
// other names ("q").
func boolFlag(name, usage, env string, aliases ...string) *envBoolFlag {
	return &envBoolFlag{cli.BoolFlag{Name: name, Aliases: aliases, Usage: usage, EnvVars: []string{env}}}
}

// envBoolWords says what each word of a boolean variable means.
var envBoolWords = map[string]bool{
	"1": true, "true": true, "yes": true, "on": true, "t": true, "y": true,
	"0": false, "false": false, "no": false, "off": false, "f": false, "n": false,
}

// envBoolHelp is what a boolean variable takes, for messages and help.
const envBoolHelp = "1/0, true/false, yes/no or on/off"

// parseEnvBool reads the value of a boolean variable.
func parseEnvBool(s string) (bool, bool) {
	if strings.TrimSpace(s) == "" {
		return false, true
	}
	v, ok := envBoolWords[strings.ToLower(strings.TrimSpace(s))]
	return v, ok
}

// Apply reads the flag's variable itself, then lets urfave/cli define the
// flag with that value as its default, which the command line overrides.
// A value it cannot read is an error in urfave/cli's own words, which
// flagError rewrites.
func (f *envBoolFlag) Apply(set *flag.FlagSet) error {
	vars := f.EnvVars
	found := false
	for _, v := range vars {
		s, ok := os.LookupEnv(v)
		if !ok {
			continue
		}
		b, ok := parseEnvBool(s)
		if !ok {
			return fmt.Errorf("could not parse %q as bool value from environment variable %q for flag %s: invalid syntax", s, v, f.Name)
		}
		f.Value, found = b, true
		break
	}
	f.EnvVars = nil
	err := f.BoolFlag.Apply(set)
	f.EnvVars = vars
	if found {
		f.HasBeenSet = true
	}
	return err
}
