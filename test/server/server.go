package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/internal/clientconn"
	"github.com/FerretDB/FerretDB/internal/clientconn/connmetrics"
	"github.com/FerretDB/FerretDB/internal/handler/registry"
	"github.com/FerretDB/FerretDB/internal/util/password"
	"github.com/FerretDB/FerretDB/internal/util/state"
)

// The database FerretDB's setup creates the user in; the printed URI names it
// as authSource.
const authDatabase = "admin"

type serverConfig struct {
	host, dir, logLevel    string
	port                   int
	exitOnStdinEOF         bool
	tlsCert, tlsKey, tlsCA string
	user, password         string
}

func (c *serverConfig) tls() bool  { return c.tlsCert != "" }
func (c *serverConfig) auth() bool { return c.user != "" }

func (c *serverConfig) validate() error {
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.tlsCA != "" && !c.tls() {
		return errors.New("--tls-ca needs --tls-cert and --tls-key")
	}
	if (c.user == "") != (c.password == "") {
		return errors.New("--user and --password go together")
	}
	if c.port < 0 || c.port > 65535 {
		return fmt.Errorf("--port: not a port number: %d", c.port)
	}
	return nil
}

// runServer mirrors ferretdb.New and (*ferretdb.FerretDB).Run of FerretDB
// v1.24, adding the new-auth switch and the setup user they do not expose.
func runServer(c *serverConfig) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dataDir := c.dir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "mgo-threads-ferretdb-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}

	version.Get().Package = "embedded"

	sp, err := state.NewProvider("")
	if err != nil {
		return fmt.Errorf("state provider: %w", err)
	}
	// As ferretdb.New does: telemetry never runs here, and saying so
	// explicitly keeps startup warnings about it out of the log.
	err = sp.Update(func(s *state.State) {
		s.DisableTelemetry()
		s.TelemetryLocked = true
	})
	if err != nil {
		return fmt.Errorf("state provider: %w", err)
	}

	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	metrics := connmetrics.NewListenerMetrics()
	opts := &registry.NewHandlerOpts{
		Logger:        logger,
		ConnMetrics:   metrics.ConnMetrics,
		StateProvider: sp,
		TCPHost:       addr,
		SQLiteURL:     "file:" + dataDir + "/",
		TestOpts: registry.TestOpts{
			CappedCleanupPercentage: 10,
			BatchSize:               100,
		},
	}
	if c.auth() {
		// New auth: SCRAM-SHA-1 and SCRAM-SHA-256 conversations checked by
		// FerretDB itself (the default PLAIN mechanism only hands the
		// credentials to the backend, which SQLite ignores). The setup user
		// gets credentials for both mechanisms; it is created synchronously
		// in handler construction, so it exists before the URI is printed.
		opts.EnableNewAuth = true
		opts.SetupDatabase = authDatabase
		opts.SetupUsername = c.user
		opts.SetupPassword = password.WrapPassword(c.password)
		opts.SetupTimeout = 30 * time.Second
	}

	h, closeBackend, err := registry.NewHandler("sqlite", opts)
	if err != nil {
		if closeBackend != nil {
			closeBackend()
		}
		return fmt.Errorf("handler: %w", err)
	}
	defer closeBackend()

	listenOpts := &clientconn.NewListenerOpts{
		Mode:    clientconn.NormalMode,
		Metrics: metrics,
		Handler: h,
		Logger:  logger,
	}
	if c.tls() {
		// Only the TLS listener: plain TCP to this port must fail.
		listenOpts.TLS = addr
		listenOpts.TLSCertFile = c.tlsCert
		listenOpts.TLSKeyFile = c.tlsKey
		listenOpts.TLSCAFile = c.tlsCA
	} else {
		listenOpts.TCP = addr
	}
	l, err := clientconn.Listen(listenOpts)
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	done := make(chan struct{})
	go func() {
		l.Run(ctx)
		close(done)
	}()

	// Listen has bound the socket, so connections queue from here on:
	// printing the URI is the readiness signal the Node side waits for.
	var bound net.Addr
	if c.tls() {
		bound = l.TLSAddr()
	} else {
		bound = l.TCPAddr()
	}
	fmt.Println(serverURI(c, bound.String()))
	<-done
	return nil
}

// serverURI is mongodb://[USER@]HOST:PORT/[?tls=true][&authSource=admin];
// never with the password. Without TLS and users it is exactly what
// ferretdb.MongoDBURI printed before.
func serverURI(c *serverConfig, hostPort string) string {
	u := &url.URL{Scheme: "mongodb", Host: hostPort, Path: "/"}
	var query []string
	if c.tls() {
		query = append(query, "tls=true")
	}
	if c.auth() {
		u.User = url.User(c.user)
		query = append(query, "authSource="+authDatabase)
	}
	u.RawQuery = strings.Join(query, "&")
	return u.String()
}
