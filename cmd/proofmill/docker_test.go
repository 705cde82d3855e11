package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofmill/proofmill/internal/proctest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

// image is what Docker takes from a Dockerfile's final stage to start a
// container.
type image struct {
	env         []string // ENV, in order, ${VAR} expanded
	volumes     []string
	entrypoint  []string
	cmd         []string
	healthcheck []string // HEALTHCHECK's CMD
}

// readDockerfile reads the final stage's ENV, VOLUME, ENTRYPOINT, CMD and
// HEALTHCHECK lines (exec forms only, as the images use).
func readDockerfile(t *testing.T, path string) image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var img image
	lookup := func(k string) string {
		for i := len(img.env) - 1; i >= 0; i-- {
			if name, v, _ := strings.Cut(img.env[i], "="); name == k {
				return v
			}
		}
		return ""
	}
	jsonArgs := func(s string) []string {
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			t.Fatalf("%s: %q is not an exec form: %v", path, s, err)
		}
		return out
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest = strings.TrimSpace(rest)
		switch word {
		case "FROM": // a new stage: only the last one runs
			img = image{}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				img.env = append(img.env, k+"="+os.Expand(v, lookup))
			}
		case "VOLUME":
			img.volumes = jsonArgs(rest)
		case "ENTRYPOINT":
			img.entrypoint = jsonArgs(rest)
		case "CMD":
			img.cmd = jsonArgs(rest)
		case "HEALTHCHECK":
			_, exec, ok := strings.Cut(rest, "CMD ")
			if !ok {
				t.Fatalf("%s: HEALTHCHECK without CMD", path)
			}
			img.healthcheck = jsonArgs(strings.TrimSpace(exec))
		}
	}
	return img
}

// dockerRun is one `docker run` line of the README.
type dockerRun struct {
	image  string
	env    []string // -e
	mounts []string // -v's container paths
	line   string
}

// readmeDockerRuns are the README's `docker run` lines, continuations joined.
func readmeDockerRuns(t *testing.T) []dockerRun {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var runs []dockerRun
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "docker run ") {
			continue
		}
		r := dockerRun{line: line}
		f := strings.Fields(line)[2:]
		for i := 0; i < len(f); i++ {
			arg := strings.Trim(f[i], `"'`)
			switch arg {
			case "-e", "-v", "-p", "--name", "--gpus":
				i++
				if i == len(f) {
					t.Fatalf("README: %s: %s without a value", line, arg)
				}
				v := strings.Trim(f[i], `"'`)
				switch arg {
				case "-e":
					r.env = append(r.env, v)
				case "-v":
					r.mounts = append(r.mounts, strings.Split(v, ":")[1])
				}
			case "-d":
			default:
				if strings.HasPrefix(arg, "-") {
					t.Fatalf("README: %s: option %s is not one this test knows", line, arg)
				}
				if r.image == "" {
					r.image = arg
				}
			}
		}
		runs = append(runs, r)
	}
	return runs
}

// TestDockerImagesStart runs each README `docker run` line as Docker would
// run it: the image's ENV, ENTRYPOINT and CMD with the line's -e options,
// each mounted or declared volume a temporary folder, the ports 7420 and
// 7421 swapped for free ones (still on 0.0.0.0, which is what the images
// listen on), and the fault:ok test device for --gpus all. The server must
// start, and the image's HEALTHCHECK command must pass against it. The
// images' environment alone, without TLS or PROOFMILL_INSECURE, must be
// refused with exit 2 and a message that says what to set.
func TestDockerImagesStart(t *testing.T) {
	images := map[string]string{"proofmill": "../../Dockerfile", "proofmill:cuda": "../../Dockerfile.cuda"}
	runs := readmeDockerRuns(t)
	seen := map[string]bool{}
	for i, run := range runs {
		file, ok := images[run.image]
		if !ok {
			continue
		}
		seen[run.image] = true
		insecure := slices.Contains(run.env, "PROOFMILL_INSECURE=1")
		mode := map[bool]string{true: "insecure", false: "tls"}[insecure]
		t.Run(fmt.Sprintf("%d-%s-%s", i, strings.ReplaceAll(run.image, ":", "-"), mode), func(t *testing.T) {
			img := readDockerfile(t, file)
			c := newContainer(t, img, run)
			srv := c.start(t, append(img.entrypoint[1:], img.cmd...))
			if len(img.healthcheck) == 0 {
				select { // say first whether it would start at all
				case <-srv.Exited:
					t.Fatalf("%q exited: %v\n%s", run.line, srv.Err, srv.Logs())
				case <-time.After(10 * time.Second):
				}
				t.Fatalf("%s has no HEALTHCHECK", file)
			}
			c.waitHealthy(t, srv, img.healthcheck[1:])
			if logs := srv.Logs(); insecure != strings.Contains(logs, "INSECURE: plaintext gRPC on the network") ||
				!insecure && !strings.Contains(logs, "serving gRPC over TLS") {
				t.Fatalf("start log of %q does not say how it serves:\n%s", run.line, logs)
			}
			srv.Cmd.Process.Signal(syscall.SIGTERM)
			<-srv.Exited
			if srv.Err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", srv.Err, srv.Logs())
			}
			// The health check can fail: with the server gone it must.
			check := proctest.StartCmd(t, "health check", func(cmd *exec.Cmd) { cmd.Env, cmd.Dir = c.env, c.dir }, img.healthcheck[1:]...)
			<-check.Exited
			if check.Err == nil {
				t.Fatalf("the health check passed with the server stopped:\n%s", check.Logs())
			}
		})
	}
	for name := range images {
		if !seen[name] {
			t.Errorf("the README has no `docker run ... %s` line", name)
		}
	}

	// The image's own environment, with neither TLS nor PROOFMILL_INSECURE.
	img := readDockerfile(t, "../../Dockerfile")
	c := newContainer(t, img, dockerRun{})
	p := c.start(t, append(img.entrypoint[1:], img.cmd...))
	<-p.Exited
	if ee, ok := p.Err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(p.Logs(), "PROOFMILL_INSECURE=1") {
		t.Fatalf("the image without TLS or PROOFMILL_INSECURE: %v, want exit 2 naming PROOFMILL_INSECURE=1\n%s", p.Err, p.Logs())
	}
}

// container is a run's environment, with its paths and ports replaced.
type container struct {
	env     []string
	replace *strings.Replacer
	dir     string // the working directory
}

func newContainer(t *testing.T, img image, run dockerRun) *container {
	root := t.TempDir()
	var pairs []string
	for _, path := range append(img.volumes, run.mounts...) {
		host := filepath.Join(root, strings.ReplaceAll(strings.Trim(path, "/"), "/", "_"))
		if err := os.MkdirAll(host, 0o755); err != nil {
			t.Fatal(err)
		}
		if path == "/etc/proofmill/tls" {
			writeTLSFiles(t, host)
		}
		pairs = append(pairs, path, host)
	}
	for _, port := range []string{"7420", "7421"} {
		_, free, _ := net.SplitHostPort(proctest.FreeAddr(t))
		pairs = append(pairs, "0.0.0.0:"+port, "0.0.0.0:"+free)
	}
	c := &container{replace: strings.NewReplacer(pairs...), dir: root}
	// Docker gives a container HOME (and PATH); the image and the line the rest.
	env := append([]string{"HOME=" + root}, img.env...)
	for _, kv := range append(env, run.env...) {
		c.env = append(c.env, c.replace.Replace(kv))
	}
	return c
}

var gpusAll = regexp.MustCompile(`^PROOFMILL_GPUS=all$`)

// start runs the binary with the container's environment and args.
func (c *container) start(t *testing.T, args []string) *proctest.Process {
	t.Helper()
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = c.replace.Replace(a)
		if i > 0 && out[i-1] == "--gpus" && a == "all" {
			out[i] = "fault:ok" // no GPU here: the test device, through the same supervised worker path
		}
	}
	env := make([]string, len(c.env))
	for i, kv := range c.env {
		env[i] = gpusAll.ReplaceAllString(kv, "PROOFMILL_GPUS=fault:ok")
	}
	p := proctest.StartCmd(t, "container", func(cmd *exec.Cmd) { cmd.Env, cmd.Dir = env, c.dir }, out...)
	return p
}

// waitHealthy runs the health check command until it passes, for up to a
// minute, failing if the server exits first.
func (c *container) waitHealthy(t *testing.T, srv *proctest.Process, health []string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case <-srv.Exited:
			t.Fatalf("the server exited: %v\n%s", srv.Err, srv.Logs())
		default:
		}
		check := proctest.StartCmd(t, "health check", func(cmd *exec.Cmd) { cmd.Env, cmd.Dir = c.env, c.dir }, health...)
		<-check.Exited
		if check.Err == nil {
			return
		}
		last = check.Logs()
	}
	t.Fatalf("the health check never passed; its last output:\n%s\nserver log:\n%s", last, srv.Logs())
}

// writeTLSFiles writes a self-signed certificate for 127.0.0.1 and
// localhost as tls.crt, its key as tls.key, and the certificate again as
// ca.crt, as the README's TLS step mounts them.
func writeTLSFiles(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "proofmill test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, data := range map[string][]byte{"tls.crt": cert, "ca.crt": cert,
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
