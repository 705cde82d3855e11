package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
)

// credentials returns the listener's transport security. Without a
// certificate the server listens on loopback only, unless Insecure.
func (t TLS) credentials(listen string, log *slog.Logger) (grpc.ServerOption, error) {
	if t.CertFile == "" && t.KeyFile == "" {
		if t.ClientCA != "" {
			return nil, errcode.Errorf(errcode.Usage, "--client-ca needs --tls-cert and --tls-key")
		}
		if !client.IsLoopback(listen) && !t.Insecure {
			return nil, errcode.Errorf(errcode.Usage, "refusing plaintext gRPC on %s: give --tls-cert and --tls-key ($PROOFMILL_TLS_CERT, $PROOFMILL_TLS_KEY), listen on loopback, or pass --insecure (PROOFMILL_INSECURE=1) on a trusted network", listen)
		}
		if client.IsLoopback(listen) {
			log.Warn("no TLS: serving plaintext gRPC on loopback only", "listen", listen)
		} else {
			log.Warn("INSECURE: plaintext gRPC on the network, no TLS: anyone who can reach this address can read proofs and submit jobs (--insecure or PROOFMILL_INSECURE=1; use only on a trusted network)", "listen", listen)
		}
		return grpc.Creds(insecure.NewCredentials()), nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("node: tls: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	mode := "TLS"
	if t.ClientCA != "" {
		if cfg.ClientCAs, err = client.ReadCertPool(t.ClientCA); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		mode = "mTLS"
	}
	log.Info("serving gRPC over "+mode, "listen", listen)
	return grpc.Creds(credentials.NewTLS(cfg)), nil
}

// receiptSigner loads the service key receipts are signed with. A server
// makes it on first start; a worker must be given the servers' key, since
// it signs the receipts of the proofs it verifies and servers check them.
func receiptSigner(path, version string, create bool, log *slog.Logger) (*receipt.Signer, error) {
	if _, err := os.Stat(path); !create && errors.Is(err, os.ErrNotExist) {
		return nil, errcode.Errorf(errcode.Usage, "worker: receipt key %s not found: copy the servers' receipt.key (in their --data) "+
			"and pass --receipt-key; a worker signs the receipts of the proofs it verifies, with the one service key", path)
	}
	key, created, err := receipt.LoadOrCreateKey(path)
	if err != nil {
		return nil, err
	}
	s := receipt.NewSigner(key, version)
	if created {
		log.Info("made a receipt signing key", "file", path, "key_id", s.KeyID())
	}
	log.Info("receipts", "key_id", s.KeyID(), "version", version)
	return s, nil
}
