// Command testserver runs an embedded FerretDB (SQLite backend in a temporary
// directory) on a loopback TCP port and prints its mongodb:// URI on stdout
// once the listener is accepting connections.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	host := flag.String("host", "127.0.0.1", "listen address (loopback only)")
	port := flag.Int("port", 0, "listen port; 0 picks a free one")
	dir := flag.String("dir", "", "SQLite data directory; a temporary one (removed on exit) when empty")
	logLevel := flag.String("log-level", "warn", "FerretDB log level: debug, info, warn, error")
	stdinEOF := flag.Bool("exit-on-stdin-eof", false, "exit when stdin closes (so a dying parent never leaves a server behind)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dataDir := *dir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "mgo-threads-ferretdb-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: fmt.Sprintf("%s:%d", *host, *port)},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dataDir + "/",
	})
	if err != nil {
		fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *stdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	done := make(chan struct{})
	go func() {
		_ = f.Run(ctx)
		close(done)
	}()

	// MongoDBURI blocks until the listener has its address, so printing it is
	// the readiness signal the Node side waits for.
	fmt.Println(f.MongoDBURI())
	<-done
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "testserver:", err)
	os.Exit(1)
}
