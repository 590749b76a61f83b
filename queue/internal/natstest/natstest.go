// Package natstest runs a real nats-server with JetStream in-process for
// tests: a file store in t.TempDir(), a random port on 127.0.0.1, shut down
// by t.Cleanup.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a running test server with a client connection.
type Server struct {
	S   *server.Server
	Dir string // the JetStream store directory
	NC  *nats.Conn
	JS  jetstream.JetStream
}

// URL returns the server's client URL.
func (s *Server) URL() string { return s.S.ClientURL() }

// Start starts a JetStream-enabled nats-server storing in a fresh
// t.TempDir() and connects to it. Everything stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartDir(t, t.TempDir())
}

// StartDir is Start with a given store directory, so that a test can stop
// a server and start another on the same store.
func StartDir(t testing.TB, dir string) *Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("natstest: server not ready in 10s")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	nc, err := nats.Connect(s.ClientURL(), nats.Name("natstest"))
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return &Server{S: s, Dir: dir, NC: nc, JS: js}
}

// Context returns a context cancelled when the test ends or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
