// Command testserver runs an embedded FerretDB (SQLite backend in a temporary
// directory) on a loopback port and prints its mongodb:// URI on stdout once
// the listener is accepting connections. Optionally the listener speaks TLS
// (--tls-cert/--tls-key, plus --tls-ca for mandatory client certificates) and
// commands require SCRAM authentication as a user created in admin
// (--user/--password).
//
// `testserver gencerts --dir D` writes the TLS fixtures of the tests instead
// and prints their paths as JSON (see gencerts.go).
//
// Why this module's path lies under github.com/FerretDB/FerretDB: FerretDB
// v1.24 implements SCRAM-SHA-1/256 only behind its experimental "new auth"
// switch, and its embeddable package (ferretdb.Config) exposes neither that
// switch nor the setup user. Both are fields of internal/handler/registry, and
// Go allows importing an internal package from any package whose import path
// is rooted at the internal directory's parent, so server.go builds the
// handler and listener itself, as ferretdb.New does, with those fields set.
// No patched copy of FerretDB is needed: the module comes unchanged from the
// Go module proxy.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gencerts" {
		fs := flag.NewFlagSet("gencerts", flag.ExitOnError)
		dir := fs.String("dir", "", "directory to write the certificates and keys into (created if missing)")
		_ = fs.Parse(os.Args[2:])
		if *dir == "" {
			fatal(fmt.Errorf("gencerts: --dir is required"))
		}
		files, err := generateCertificates(*dir)
		if err != nil {
			fatal(err)
		}
		if err := json.NewEncoder(os.Stdout).Encode(files); err != nil {
			fatal(err)
		}
		return
	}

	var cfg serverConfig
	flag.StringVar(&cfg.host, "host", "127.0.0.1", "listen address (loopback only)")
	flag.IntVar(&cfg.port, "port", 0, "listen port; 0 picks a free one")
	flag.StringVar(&cfg.dir, "dir", "", "SQLite data directory; a temporary one (removed on exit) when empty")
	flag.StringVar(&cfg.logLevel, "log-level", "warn", "FerretDB log level: debug, info, warn, error")
	flag.BoolVar(&cfg.exitOnStdinEOF, "exit-on-stdin-eof", false, "exit when stdin closes (so a dying parent never leaves a server behind)")
	flag.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM server certificate; enables TLS (needs --tls-key, which may name the same file)")
	flag.StringVar(&cfg.tlsKey, "tls-key", "", "PEM server private key")
	flag.StringVar(&cfg.tlsCA, "tls-ca", "", "PEM CA certificate; makes client certificates signed by it mandatory (mutual TLS)")
	flag.StringVar(&cfg.user, "user", "", "require SCRAM-SHA-1/256 authentication; this user is created in admin (needs --password)")
	flag.StringVar(&cfg.password, "password", "", "password of --user")
	flag.Parse()

	if err := cfg.validate(); err != nil {
		fatal(err)
	}
	if err := runServer(&cfg); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "testserver:", err)
	os.Exit(1)
}
