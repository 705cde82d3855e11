package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/client"
)

// serverTLS is how serve secures its gRPC listener.
type serverTLS struct {
	CertFile, KeyFile string
	ClientCA          string // mTLS: client certificates must chain to it
	Insecure          bool   // plaintext on a non-loopback address, explicitly
}

// credentials returns the listener's transport security. Without a
// certificate the server listens on loopback only, unless Insecure.
func (t serverTLS) credentials(listen string, log *slog.Logger) (grpc.ServerOption, error) {
	if t.CertFile == "" && t.KeyFile == "" {
		if t.ClientCA != "" {
			return nil, fmt.Errorf("%w: --client-ca needs --tls-cert and --tls-key", errUsage)
		}
		if !client.IsLoopback(listen) && !t.Insecure {
			return nil, fmt.Errorf("%w: refusing plaintext gRPC on %s: give --tls-cert and --tls-key, listen on loopback, or pass --insecure", errUsage, listen)
		}
		if client.IsLoopback(listen) {
			log.Warn("no TLS: serving plaintext gRPC on loopback only", "listen", listen)
		} else {
			log.Warn("no TLS: serving plaintext gRPC on the network (--insecure)", "listen", listen)
		}
		return grpc.Creds(insecure.NewCredentials()), nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("serve: tls: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	mode := "TLS"
	if t.ClientCA != "" {
		if cfg.ClientCAs, err = client.ReadCertPool(t.ClientCA); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		mode = "mTLS"
	}
	log.Info("serving gRPC over "+mode, "listen", listen)
	return grpc.Creds(credentials.NewTLS(cfg)), nil
}

// receiptSigner loads, or makes on first start, the key receipts are
// signed with.
func receiptSigner(cfg serveConfig, log *slog.Logger) (*receipt.Signer, error) {
	path := cfg.ReceiptKey
	if path == "" {
		path = filepath.Join(cfg.DataDir, "receipt.key")
	}
	key, created, err := receipt.LoadOrCreateKey(path)
	if err != nil {
		return nil, err
	}
	s := receipt.NewSigner(key, version())
	if created {
		log.Info("made a receipt signing key", "file", path, "key_id", s.KeyID())
	}
	log.Info("receipts", "key_id", s.KeyID(), "version", version())
	return s, nil
}

// version is proofmill's version as the build recorded it: the module
// version, else the VCS revision, else "devel".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "devel"
	case modified:
		return "devel-" + rev[:min(12, len(rev))] + "-dirty"
	}
	return "devel-" + rev[:min(12, len(rev))]
}
