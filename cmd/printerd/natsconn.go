package main

import (
	"flag"
	"os"

	"github.com/cityid/printerd/internal/natsconn"
)

// natsClient are the settings a client command (submit, jobs, diag) needs
// to reach NATS; the daemon uses the same settings for --nats.
type natsClient struct{ natsconn.Options }

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
