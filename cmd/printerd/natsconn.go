package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

// natsClient are the settings a client command (submit, jobs) needs to
// reach NATS; the daemon uses the same settings for --nats.
type natsClient struct {
	URL   string
	Creds string
	NKey  string
	CA    string
	Cert  string
	Key   string
}

// defaultNATSURL is where client commands look for a daemon's embedded server.
const defaultNATSURL = "nats://127.0.0.1:4222"

// addFlags adds --nats and the credential flags to fs; defaults come from
// the PRINTERD_* environment.
func (n *natsClient) addFlags(fs *flag.FlagSet) {
	def := func(setting, fallback string) string {
		if v := os.Getenv(envName(setting)); v != "" {
			return v
		}
		return fallback
	}
	fs.StringVar(&n.URL, "nats", def("nats", defaultNATSURL), "NATS URL (also PRINTERD_NATS)")
	fs.StringVar(&n.Creds, "nats-creds", def("nats-creds", ""), "NATS credentials file")
	fs.StringVar(&n.NKey, "nats-nkey", def("nats-nkey", ""), "NATS nkey seed file")
	fs.StringVar(&n.CA, "nats-ca", def("nats-ca", ""), "CA certificate (PEM) for NATS TLS")
	fs.StringVar(&n.Cert, "nats-cert", def("nats-cert", ""), "client certificate (PEM) for NATS TLS")
	fs.StringVar(&n.Key, "nats-key", def("nats-key", ""), "client key (PEM) for NATS TLS")
}

// connect dials NATS with the configured credentials.
func (n natsClient) connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second)}
	if n.Creds != "" {
		opts = append(opts, nats.UserCredentials(n.Creds))
	}
	if n.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(n.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats-nkey: %w", err)
		}
		opts = append(opts, o)
	}
	if n.CA != "" {
		opts = append(opts, nats.RootCAs(n.CA))
	}
	if n.Cert != "" || n.Key != "" {
		opts = append(opts, nats.ClientCert(n.Cert, n.Key))
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", redactURLs(n.URL), err)
	}
	return nc, nil
}
