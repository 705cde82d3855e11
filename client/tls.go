package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"github.com/proofmill/proofmill/api/receipt"
)

// TLSFiles names the PEM files of a TLS client. Empty fields are left out:
// no CAFile trusts the system's roots; no CertFile presents no client
// certificate.
type TLSFiles struct {
	CAFile     string // the server's CA
	CertFile   string // the client certificate, for mTLS
	KeyFile    string
	ServerName string // to check in the server's certificate; empty: the host dialed
}

// Config reads the files into a TLS configuration.
func (f TLSFiles) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	if f.CAFile != "" {
		pool, err := ReadCertPool(f.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, fmt.Errorf("client: tls: a client certificate needs both its certificate and its key file")
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client: tls: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ReadCertPool reads the PEM certificates in path into a pool.
func ReadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// IsLoopback reports whether target ("host:port") names this machine:
// localhost, or a loopback IP.
func IsLoopback(target string) bool {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearer sends the token with every call.
type bearer struct {
	token string
	tls   bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.tls }

// Files names a connection's credentials the way a command line gives
// them: TLS (with the system's roots unless TLSFiles says otherwise), the
// TLS files, an API token, and a file holding the key receipts must be
// signed with (hex or PEM).
type Files struct {
	TLS bool
	TLSFiles
	Token      string
	ServiceKey string
}

// DialFiles reads f's files and dials target. TLS is on when asked, or
// when a CA or client certificate is named.
func DialFiles(target string, f Files) (*Client, error) {
	opt := Options{Token: f.Token}
	if f.TLS || f.CAFile != "" || f.CertFile != "" {
		cfg, err := f.TLSFiles.Config()
		if err != nil {
			return nil, err
		}
		opt.TLS = cfg
	}
	if f.ServiceKey != "" {
		data, err := os.ReadFile(f.ServiceKey)
		if err != nil {
			return nil, err
		}
		if opt.ServiceKey, err = receipt.ParsePublicKey(data); err != nil {
			return nil, err
		}
	}
	return Dial(target, opt)
}
