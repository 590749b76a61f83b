// Package natsconn dials NATS with printerd's connection settings (URL,
// credentials file, nkey seed, TLS), for the daemon joining a deployment
// and for the client commands alike.
package natsconn

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/internal/trust"
)

// Options are the settings a connection needs. The zero value of each
// credential means none.
type Options struct {
	URL   string // one URL, or a comma-separated list for a cluster
	Creds string // credentials file (JWT + nkey)
	NKey  string // nkey seed file
	CA    string // CA certificate (PEM) to verify the server
	Cert  string // client certificate (PEM)
	Key   string // client key (PEM)
}

// Connect dials NATS as name with the configured credentials; extra
// options come last.
func (o Options) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second)}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
		pub, err := seedPublic("nats-creds", o.Creds)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.CustomInboxPrefix(InboxPrefix(pub)))
	}
	if o.NKey != "" {
		pub, err := seedPublic("nats-nkey", o.NKey)
		if err != nil {
			return nil, err
		}
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats-nkey: %w", err)
		}
		opts = append(opts, opt, nats.CustomInboxPrefix(InboxPrefix(pub)))
	}
	if o.CA != "" {
		opts = append(opts, nats.RootCAs(o.CA))
	}
	if o.Cert != "" || o.Key != "" {
		opts = append(opts, nats.ClientCert(o.Cert, o.Key))
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(o.URL, opts...)
	if errors.Is(err, nats.ErrAuthorization) && o.NKey == "" && o.Creds == "" {
		return nil, fmt.Errorf("nats %s: %w (connect as your user: --nats-nkey SEED, made by printerd users add)", RedactURLs(o.URL), err)
	}
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", RedactURLs(o.URL), err)
	}
	return nc, nil
}

// InboxPrefix is the reply-subject prefix of the user with public key pub;
// printerd's accounts let each user subscribe to its own inbox only
// (queue/embedded.InboxPrefix is the same rule).
func InboxPrefix(pub string) string { return "_INBOX_" + pub }

// seedPublic reads the nkey seed in a seed or credentials file (refused if
// group or others may read it) and returns its public key.
func seedPublic(setting, path string) (string, error) {
	if err := trust.CheckPrivate(path); err != nil {
		return "", fmt.Errorf("%s: %w", setting, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", setting, err)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", fmt.Errorf("%s: %s holds no nkey seed: %w", setting, path, err)
	}
	defer kp.Wipe()
	return kp.PublicKey()
}

// RedactURLs hides passwords in a comma-separated list of NATS URLs.
func RedactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
