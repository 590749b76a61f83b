package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/queue/embedded"
)

// cmdUsers is printerd users: add the NATS users of an office (nkeys, one
// per person or system, with a role), list them, and write the server
// configuration for a joined deployment.
func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, `usage: printerd users add --role ROLE NAME [--site S] [--seed FILE] [--state DIR | --users FILE]
       printerd users list [--state DIR | --users FILE] [--json]
       printerd users config [--state DIR | --users FILE]

add    makes an nkey user: writes its seed (mode 0600; give it to the person or system,
       who passes it as --nats-nkey) and adds its public key to the users file the
       daemon reads (default <state>/users.json). Restart printerd run to apply.
       roles: %s
config writes the nats-server accounts and permissions of these users, for the
       operator's own servers when daemons join a deployment (--nats).
`, strings.Join(embedded.Roles, ", "))
	}
	if status, done := needVerb(args, usage); done {
		return status
	}
	verb := args[0]
	fs := flag.NewFlagSet("printerd users "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", envOr("PRINTERD_STATE", daemon.DefaultConfig().State), "state directory of the daemon")
	usersFile := fs.String("users", os.Getenv("PRINTERD_NATS_USERS"), "users file (default <state>/users.json)")
	role := fs.String("role", "", "role: "+strings.Join(embedded.Roles, ", "))
	site := fs.String("site", envOr("PRINTERD_SITE", "local"), "site the user acts for (\"*\": every site; not for enrollment)")
	seed := fs.String("seed", "", "where to write the seed (default ./NAME.nk)")
	asJSON := fs.Bool("json", false, "print as JSON")
	pos, status, done := parseArgs(fs, args[1:])
	if done {
		return status
	}
	path := *usersFile
	if path == "" {
		path = filepath.Join(*state, daemon.DefaultUsersFile)
	}
	switch verb {
	case "add":
		if len(pos) != 1 || !slices.Contains(embedded.Roles, *role) {
			fmt.Fprintf(stderr, "printerd users add: want --role (%s) and one NAME\n", strings.Join(embedded.Roles, ", "))
			return exitUsage
		}
		return usersAdd(pos[0], *role, *site, *seed, path, stdout, stderr)
	case "list", "config":
		if len(pos) != 0 {
			usage()
			return exitUsage
		}
		us, err := embedded.LoadUsers(path)
		if err != nil {
			fmt.Fprintf(stderr, "printerd users %s: %v\n", verb, err)
			return exitFail
		}
		if verb == "config" {
			conf, err := embedded.AccountsConfig(us, false)
			if err != nil {
				fmt.Fprintf(stderr, "printerd users config: %v\n", err)
				return exitFail
			}
			io.WriteString(stdout, conf)
			return exitOK
		}
		if *asJSON {
			b, _ := json.Marshal(us)
			stdout.Write(append(b, '\n'))
			return exitOK
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tSITE\tNKEY")
		for _, u := range us {
			site := u.Site
			if site == "" {
				site = embedded.AllSites
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, site, u.NKey)
		}
		tw.Flush()
		return exitOK
	}
	fmt.Fprintf(stderr, "printerd users: unknown verb %q\n", verb)
	usage()
	return exitUsage
}

// usersAdd makes the nkey, writes the seed (never over an existing file)
// and adds the user to the users file.
func usersAdd(name, role, site, seedPath, usersPath string, stdout, stderr io.Writer) int {
	if seedPath == "" {
		seedPath = name + ".nk"
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		fmt.Fprintf(stderr, "printerd users add: %v\n", err)
		return exitFail
	}
	defer kp.Wipe()
	pub, _ := kp.PublicKey()
	u := embedded.User{Name: name, NKey: pub, Role: role, Site: site}
	if err := u.Check(); err != nil {
		fmt.Fprintf(stderr, "printerd users add: %v\n", err)
		return exitUsage
	}
	s, _ := kp.Seed()
	f, err := os.OpenFile(seedPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "printerd users add: seed: %v\n", err)
		return exitFail
	}
	_, werr := f.Write(append(s, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(seedPath)
		fmt.Fprintf(stderr, "printerd users add: seed: %v\n", werr)
		return exitFail
	}
	if err := embedded.AddUser(usersPath, u); err != nil {
		os.Remove(seedPath)
		fmt.Fprintf(stderr, "printerd users add: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "added %s %s (site %s): key %s\nseed: %s (mode 0600; the user passes it as --nats-nkey)\nusers file: %s (restart printerd run to apply)\n",
		role, name, site, pub, seedPath, usersPath)
	return exitOK
}
