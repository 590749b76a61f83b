package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cityid/printerd/daemon"
)

// config.go layers printerd run's settings (daemon.Config): defaults, then
// a JSON config file (--config or PRINTERD_CONFIG; unknown keys are
// errors), then PRINTERD_* environment variables, then flags. Every
// setting has the same name as a flag, a key of the file and, upper-cased
// with '-' as '_' and the prefix PRINTERD_, a variable. In the environment,
// PRINTERD_PRINTER holds URIs separated by spaces or commas.

// stringsFlag is a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// envName is the environment variable of a setting.
func envName(setting string) string {
	return "PRINTERD_" + strings.ToUpper(strings.ReplaceAll(setting, "-", "_"))
}

// loadConfig builds the configuration from defaults, the config file
// (--config or PRINTERD_CONFIG), the environment and the flags in args.
// getenv is os.Getenv in production. It returns flag.ErrHelp for --help.
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (daemon.Config, error) {
	c := daemon.DefaultConfig()
	// Parse flags into a separate config, then apply in order.
	var fc daemon.Config
	fs := flag.NewFlagSet("printerd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "JSON config file (also PRINTERD_CONFIG)")
	var printers stringsFlag
	defs := c.Settings()
	for i, s := range fc.Settings() {
		usage := s.Usage + " [" + envName(s.Name)
		if d := defs[i].Value(); d != "" && s.Name != "state" {
			usage += "; default " + d
		}
		usage += "]"
		switch {
		case s.List != nil:
			fs.Var(&printers, s.Name, usage)
		case s.Dur != nil:
			fs.Var(s.Dur, s.Name, usage)
		case s.Bool != nil:
			fs.BoolVar(s.Bool, s.Name, false, usage)
		default:
			fs.StringVar(s.Str, s.Name, "", usage)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: printerd %s [--config FILE] [flags]\n\n"+
			"Every flag is also a key of the JSON config file and an environment variable (in brackets).\n"+
			"Precedence: flags > environment > config file > defaults.\n\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("printerd %s: unexpected argument %q", name, fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	file := *configFile
	if file == "" {
		file = getenv("PRINTERD_CONFIG")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("config: %s: %w", file, err)
		}
	}
	for _, s := range c.Settings() {
		v := getenv(envName(s.Name))
		if v == "" {
			continue
		}
		switch {
		case s.List != nil:
			*s.List = splitList(v)
		case s.Dur != nil:
			if err := s.Dur.Set(v); err != nil {
				return c, fmt.Errorf("config: %s: %w", envName(s.Name), err)
			}
		case s.Bool != nil:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return c, fmt.Errorf("config: %s: want true or false", envName(s.Name))
			}
			*s.Bool = b
		default:
			*s.Str = v
		}
	}
	flagSettings := fc.Settings()
	for i, s := range c.Settings() {
		if !set[s.Name] {
			continue
		}
		switch {
		case s.List != nil:
			*s.List = append([]string(nil), printers...)
		case s.Dur != nil:
			*s.Dur = *flagSettings[i].Dur
		case s.Bool != nil:
			*s.Bool = *flagSettings[i].Bool
		default:
			*s.Str = *flagSettings[i].Str
		}
	}
	return c, nil
}

// splitList splits a list setting from the environment: printer URIs
// separated by whitespace or commas outside a query (URIs use '&').
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == ',' })
}
