package helpdoc

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const topHelp = `usage: printerd <command> [flags]

commands:
  keys    make issuer or approver key pairs
  run     the daemon: approved jobs from JetStream to printed cards
  version print the version

printerd <command> --help shows a command's flags.
`

const runHelp = `usage: printerd run [--config FILE] [flags]

Every flag is also a key of the JSON config file and an environment variable (in brackets).
Precedence: flags > environment > config file > defaults.

  -ack-wait value
    	how long JetStream waits [PRINTERD_ACK_WAIT; default 30s]
  -config string
    	JSON config file (also PRINTERD_CONFIG)
  -v	log the daemon's records
  -printer value
    	printer URI (repeatable)
`

const keysHelp = `usage: printerd keys <verb> [flags]

verbs:
  new      make a key pair
  publish  write the JSON key list
  cancel JOB_ID --reason R [--operator O]
                                end a held job (its data is deleted)

printerd keys <verb> --help shows a verb's flags.
`

const diagHelp = `usage: printerd diag list|status|raw PRINTER [ARG] [--json]

flags:
  -json
    	print the result as JSON
`

const demoHelp = `Usage of printerd demo:
  -jobs int
    	number of sample jobs (1-1000) (default 3)
`

func TestParse(t *testing.T) {
	tests := []struct {
		name, path, help string
		want             Command
	}{
		{"top", "printerd", topHelp, Command{
			Synopsis: "printerd <command> [flags]",
			Text:     []string{"printerd <command> --help shows a command's flags."},
			Verbs:    []Verb{{"keys", "make issuer or approver key pairs"}, {"run", "the daemon: approved jobs from JetStream to printed cards"}, {"version", "print the version"}},
		}},
		{"flags", "printerd run", runHelp, Command{
			Synopsis: "printerd run [--config FILE] [flags]",
			Text:     []string{"Every flag is also a key of the JSON config file and an environment variable (in brackets). Precedence: flags > environment > config file > defaults."},
			Flags: []Flag{
				{"ack-wait", "value", "how long JetStream waits [PRINTERD_ACK_WAIT; default 30s]"},
				{"config", "string", "JSON config file (also PRINTERD_CONFIG)"},
				{"v", "", "log the daemon's records"},
				{"printer", "value", "printer URI (repeatable)"},
			},
		}},
		{"verbs with a continued description", "printerd keys", keysHelp, Command{
			Synopsis: "printerd keys <verb> [flags]",
			Text:     []string{"printerd keys <verb> --help shows a verb's flags."},
			Verbs:    []Verb{{"new", "make a key pair"}, {"publish", "write the JSON key list"}, {"cancel", "JOB_ID --reason R [--operator O] end a held job (its data is deleted)"}},
		}},
		{"verbs in the synopsis", "printerd diag", diagHelp, Command{
			Synopsis: "printerd diag list|status|raw PRINTER [ARG] [--json]",
			Flags:    []Flag{{"json", "", "print the result as JSON"}},
			Verbs:    []Verb{{"list", ""}, {"status", ""}, {"raw", ""}},
		}},
		{"examples", "printerd jobs", "usage: printerd jobs VERB\n\nClerk job control.\n\nflags:\n  -json\n    \tprint JSON\n\nexamples:\n  printerd jobs list\n  printerd jobs held --json\n", Command{
			Synopsis: "printerd jobs VERB",
			Text:     []string{"Clerk job control."},
			Flags:    []Flag{{"json", "", "print JSON"}},
			Examples: []string{"printerd jobs list", "printerd jobs held --json"},
		}},
		{"Usage of", "printerd demo", demoHelp, Command{
			Synopsis: "printerd demo [flags]",
			Flags:    []Flag{{"jobs", "int", "number of sample jobs (1-1000) (default 3)"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.path, tt.help)
			tt.want.Path = tt.path
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func tree() *Command {
	root := Parse("printerd", topHelp)
	keys := Parse("printerd keys", keysHelp)
	keys.Subs = []*Command{Parse("printerd keys new", "usage: printerd keys new --out DIR\n\nflags:\n  -out string\n    \tdirectory\n  -json\n    \tprint JSON\n")}
	root.Subs = []*Command{keys, Parse("printerd run", runHelp), Parse("printerd version", "usage: printerd version\n")}
	return root
}

func TestMan(t *testing.T) {
	root := tree()
	page := string(Man(root.Subs[1], Page{Version: "printerd 1.0", Date: "2026-01-02", SeeAlso: []string{"printerd(8)"}}))
	for _, want := range []string{
		`.TH PRINTERD\-RUN 8 "2026-01-02" "printerd 1.0"`,
		".SH NAME\nprinterd\\-run \\- ",
		".SH SYNOPSIS\n.nf\nprinterd run [\\-\\-config FILE] [flags]\n.fi",
		".BI \\-\\-ack\\-wait \" value\"\nhow long JetStream waits",
		".B \\-\\-v\nlog the daemon's records",
		".SH SEE ALSO\n.BR printerd (8)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q:\n%s", want, page)
		}
	}
	keys := string(Man(root.Subs[0], Page{}))
	for _, want := range []string{".SH VERBS\n.TP\n.B new\nmake a key pair", ".SH PRINTERD KEYS NEW", ".SS Options\n.TP\n.BI \\-\\-out \" string\""} {
		if !strings.Contains(keys, want) {
			t.Errorf("keys page lacks %q:\n%s", want, keys)
		}
	}
	if got := line(".starts with a dot"); got != `\&.starts with a dot` {
		t.Errorf("line: got %q", got)
	}
}

// TestBash runs the generated completion in bash and checks its answers.
func TestBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("helpdoc: bash not found (apt-get install bash)")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "printerd.bash")
	if err := os.WriteFile(script, Bash(tree()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "file.json"), nil, 0o644)
	tests := []struct {
		words string
		want  string
	}{
		{"printerd ", "keys run version"},
		{"printerd ve", "version"},
		{"printerd run --ack", "--ack-wait"},
		{"printerd run --", "--ack-wait --config --v --printer"},
		{"printerd run --config fi", "file.json"},
		{"printerd keys ", "new publish cancel"},
		{"printerd keys new --", "--out --json"},
	}
	for _, tt := range tests {
		t.Run(tt.words, func(t *testing.T) {
			words := strings.Split(tt.words, " ")
			quoted := make([]string, len(words))
			for i, w := range words {
				quoted[i] = "'" + w + "'"
			}
			prog := "source " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
				strconv.Itoa(len(words)-1) + "; _printerd; echo \"${COMPREPLY[*]}\""
			cmd := exec.Command(bash, "--norc", "-c", prog)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("completing %q: got %q, want %q", tt.words, got, tt.want)
			}
		})
	}
}

// TestZsh checks the generated function parses in zsh and offers the
// commands, verbs and flags.
func TestZsh(t *testing.T) {
	out := string(Zsh(tree()))
	for _, want := range []string{"#compdef printerd", "'keys:make issuer or approver key pairs'", "'run:the daemon\\: approved jobs from JetStream to printed cards'",
		"'*--ack-wait=[how long JetStream waits \\[PRINTERD_ACK_WAIT]:value:_files'", "'*--v[log the daemon'\\''s records]'", "new) _arguments '*--out=[directory]:string:_files'"} {
		if !strings.Contains(out, want) {
			t.Errorf("zsh completion lacks %q:\n%s", want, out)
		}
	}
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Fatal("helpdoc: zsh not found: run scripts/deps.sh test (it installs zsh)")
	}
	f := filepath.Join(t.TempDir(), "_printerd")
	os.WriteFile(f, []byte(out), 0o644)
	if b, err := exec.Command(zsh, "-n", f).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, b)
	}
}
