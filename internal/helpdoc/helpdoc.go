// Package helpdoc turns the help printerd's commands print (Go flag
// package style: a usage line, text, "verbs:" or "commands:" lists and
// flags) into man pages and bash and zsh completion, so that those stay
// what the binary says. internal/cmd/mkdocs runs the binary and writes the
// files the Debian package ships.
package helpdoc

import (
	"regexp"
	"strings"
)

// Command is one command's help, parsed.
type Command struct {
	// Path is the command line that shows it, e.g. "printerd keys new".
	Path string
	// Summary is the one-line description its parent lists.
	Summary string
	// Synopsis is the usage line without "usage: ".
	Synopsis string
	// Text is the free text, paragraphs separated by empty strings.
	Text []string
	// Flags are its flags in the order printed.
	Flags []Flag
	// Verbs are the subcommands it lists ("verbs:" or "commands:", or
	// a|b|c in the synopsis).
	Verbs []Verb
	// Subs are the verbs' own helps, where they have one.
	Subs []*Command
	// Examples are the command lines listed under "examples:".
	Examples []string
}

// Flag is one flag.
type Flag struct {
	Name  string // without dashes
	Arg   string // "string", "duration", "value", ...; "" for a bool flag
	Usage string
}

// Verb is a listed subcommand.
type Verb struct {
	Name, Summary string
}

var (
	flagLine = regexp.MustCompile(`^  -([A-Za-z0-9][-A-Za-z0-9_.]*)(?: ([A-Za-z]\w*))?(?:\t(.*))?$`)
	listLine = regexp.MustCompile(`^  ([a-z][-a-z0-9]*)(?:\s+(.*))?$`)
)

// Parse reads the help text printed by "<path> --help".
func Parse(path, help string) *Command {
	c := &Command{Path: path}
	lines := strings.Split(strings.ReplaceAll(help, "\r", ""), "\n")
	inList, inExamples := false, false
	var text []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		trim := strings.TrimSpace(l)
		if inExamples {
			if strings.HasPrefix(l, "  ") && trim != "" {
				c.Examples = append(c.Examples, trim)
				continue
			}
			inExamples = false
		}
		switch {
		case trim == "examples:":
			inExamples, inList = true, false
		case strings.HasPrefix(l, "usage: "):
			c.Synopsis = strings.TrimPrefix(l, "usage: ")
			inList = false
		case strings.HasPrefix(l, "Usage of ") && strings.HasSuffix(l, ":"):
			c.Synopsis = strings.TrimSuffix(strings.TrimPrefix(l, "Usage of "), ":") + " [flags]"
			inList = false
		case trim == "flags:":
			inList = false
		case trim == "verbs:" || trim == "commands:":
			inList = true
		case flagLine.MatchString(l):
			m := flagLine.FindStringSubmatch(l)
			f := Flag{Name: m[1], Arg: m[2], Usage: m[3]}
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "    \t") {
				i++
				f.Usage = strings.TrimSpace(f.Usage + " " + strings.TrimSpace(lines[i]))
			}
			c.Flags = append(c.Flags, f)
			inList = false
		case inList && trim == "":
			inList = false
			text = append(text, "")
		case inList && strings.HasPrefix(l, "   ") && len(c.Verbs) > 0:
			// a continuation of the previous verb's description
			v := &c.Verbs[len(c.Verbs)-1]
			v.Summary = strings.TrimSpace(v.Summary + " " + trim)
		case inList && listLine.MatchString(l):
			m := listLine.FindStringSubmatch(l)
			c.Verbs = append(c.Verbs, Verb{Name: m[1], Summary: strings.TrimSpace(m[2])})
		case trim == "":
			text = append(text, "")
		default:
			text = append(text, trim)
		}
	}
	// Join lines into paragraphs.
	var para []string
	for _, t := range append(text, "") {
		if t == "" {
			if len(para) > 0 {
				c.Text = append(c.Text, strings.Join(para, " "))
				para = nil
			}
			continue
		}
		para = append(para, t)
	}
	if len(c.Verbs) == 0 {
		c.Verbs = synopsisVerbs(path, c.Synopsis)
	}
	return c
}

// synopsisVerbs finds "a|b|c" right after the command path in a synopsis
// ("printerd diag list|status|info PRINTER").
func synopsisVerbs(path, synopsis string) []Verb {
	rest, ok := strings.CutPrefix(synopsis, path+" ")
	if !ok {
		return nil
	}
	first, _, _ := strings.Cut(rest, " ")
	if !strings.Contains(first, "|") {
		return nil
	}
	var out []Verb
	for _, v := range strings.Split(first, "|") {
		if !regexp.MustCompile(`^[a-z][-a-z0-9]*$`).MatchString(v) {
			return nil
		}
		out = append(out, Verb{Name: v})
	}
	return out
}

// Name is the command's name in file names: "printerd-keys-new".
func (c *Command) Name() string { return strings.ReplaceAll(c.Path, " ", "-") }

// Flag returns the flag called name, or nil.
func (c *Command) Flag(name string) *Flag {
	for i := range c.Flags {
		if c.Flags[i].Name == name {
			return &c.Flags[i]
		}
	}
	return nil
}
