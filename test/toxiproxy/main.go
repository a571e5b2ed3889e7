// Command toxiproxy runs Toxiproxy's API server (github.com/Shopify/toxiproxy/v2,
// as its cmd/server does) on a loopback port for the tests' network faults,
// and prints the API's base URL (http://127.0.0.1:PORT) on stdout once it
// accepts connections.
//
// Why a wrapper instead of `go build` of toxiproxy's cmd/server: its API
// listens on a fixed port (8474 by default) and never reports the one it got,
// so parallel test files could not each run their own; and nothing ends it
// when the test process dies without killing it (--exit-on-stdin-eof does,
// as in test/server).
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/Shopify/toxiproxy/v2"
)

func main() {
	host := flag.String("host", "127.0.0.1", "API listen address (loopback only)")
	port := flag.Int("port", 0, "API listen port; 0 picks a free one")
	exitOnStdinEOF := flag.Bool("exit-on-stdin-eof", false, "exit when stdin closes (so a dying parent never leaves a proxy behind)")
	logLevel := flag.String("log-level", "warn", "zerolog level: debug, info, warn, error")
	flag.Parse()

	if ip := net.ParseIP(*host); ip == nil || !ip.IsLoopback() {
		fatal(fmt.Errorf("--host must be a loopback address, got %q", *host))
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		fatal(err)
	}
	logger := zerolog.New(os.Stderr).Level(level).With().Timestamp().Logger()

	if *exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}()
	}

	// ApiServer.Listen binds the address itself and does not say which port
	// it got: a free one is found here first. Another process could take it
	// in between; Listen then exits with an error and the caller (the test
	// fixture) starts again.
	if *port == 0 {
		if *port, err = freePort(*host); err != nil {
			fatal(err)
		}
	}
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
	go server.Listen(*host, strconv.Itoa(*port))

	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			fatal(fmt.Errorf("API did not accept connections on %s: %w", addr, err))
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("http://%s\n", addr)
	select {}
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "toxiproxy:", err)
	os.Exit(1)
}
