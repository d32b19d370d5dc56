package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/emulator"
)

// unavailableServer answers every CreateReadSession with UNAVAILABLE.
type unavailableServer struct {
	storagepb.UnimplementedBigQueryReadServer
}

func (unavailableServer) CreateReadSession(context.Context, *storagepb.CreateReadSessionRequest) (*storagepb.ReadSession, error) {
	return nil, status.Error(codes.Unavailable, "backend overloaded")
}

// TestExportConnectTimeout retries CreateReadSession while the server is UNAVAILABLE, logging each
// retry, and gives up once --connect-timeout has passed, with the server's cause in the error.
func TestExportConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	storagepb.RegisterBigQueryReadServer(srv, unavailableServer{})
	go srv.Serve(ln)
	defer srv.Stop()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"export", testTable, "--endpoint", ln.Addr().String(), "-o", filepath.Join(t.TempDir(), "o.ndjson"),
		"--connect-timeout", "1500ms", "--progress", "none"}, nil, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	retries := strings.Count(stderr.String(), `msg="create read session: retrying"`)
	last := lines[len(lines)-1]
	if code != exitError || retries < 2 || !strings.Contains(last, "backend overloaded") || !strings.Contains(last, "Unavailable") {
		t.Errorf("exit %d with %d retries logged, last line %q; want 1, several retries and the cause:\n%s", code, retries, last, stderr.String())
	}
}

// TestExportNoRouteToEndpoint exports with a credentials file to an endpoint whose name does
// not resolve (.invalid never does), and to the Google service's, which does not here: each fails
// within the probe's bound in one line that says why, where an export once printed nothing for
// 600 s.
func TestExportNoRouteToEndpoint(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", serviceAccountKey(t))
	for _, endpoint := range []string{"bigquerystorage.invalid:443", ""} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"export", testTable, "--endpoint", endpoint, "-o", filepath.Join(t.TempDir(), "o.ndjson"),
			"--progress", "none", "--connect-timeout", "5s"}, nil, &stdout, &stderr)
		msg := stderr.String()
		if code != exitError || strings.Count(msg, "\n") != 1 {
			t.Errorf("--endpoint %q: exit %d, want 1 and one line:\n%s", endpoint, code, msg)
		}
		if endpoint != "" && !strings.Contains(msg, "lookup bigquerystorage.invalid") {
			t.Errorf("--endpoint %q: the error does not say the name did not resolve:\n%s", endpoint, msg)
		}
		if endpoint == "" && strings.Contains(msg, "not a gRPC endpoint") && !strings.Contains(msg, "no route to BigQuery") {
			t.Errorf("no --endpoint: the hint does not say BigQuery is out of reach:\n%s", msg)
		}
	}
}

// serviceAccountKey writes a service account key file with a real (unused) RSA key, which the
// client library parses, and returns its path.
func serviceAccountKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey, _ := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	path := filepath.Join(t.TempDir(), "key.json")
	err = os.WriteFile(path, []byte(`{"type":"service_account","project_id":"bqread-test","private_key_id":"1","private_key":`+string(pemKey)+
		`,"client_email":"x@bqread-test.iam.gserviceaccount.com","token_uri":"https://oauth2.googleapis.com/token"}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExportPlaintext reaches an emulator at a non-loopback address of this machine, as one in
// another container is reached: over TLS by default (refused, in one line), in plaintext with
// --plaintext or BQREAD_PLAINTEXT=1, and never with a credentials file that would go unused.
func TestExportPlaintext(t *testing.T) {
	ip := nonLoopbackIP(t)
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, GRPCAddr: net.JoinHostPort(ip, "0")})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	export := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		args = append([]string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", filepath.Join(t.TempDir(), "o.ndjson"), "--progress", "none"}, args...)
		return run(t.Context(), args, nil, &stdout, &stderr), stderr.String()
	}
	key := serviceAccountKey(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", key)
	if code, msg := export(); code != exitError || !strings.Contains(msg, "not TLS") {
		t.Errorf("without --plaintext: exit %d, want 1 saying the server is not TLS:\n%s", code, msg)
	}
	os.Unsetenv("GOOGLE_APPLICATION_CREDENTIALS")
	if code, msg := export("--plaintext"); code != 0 {
		t.Errorf("--plaintext: exit %d\n%s", code, msg)
	}
	t.Setenv("BQREAD_PLAINTEXT", "1")
	if code, msg := export(); code != 0 {
		t.Errorf("BQREAD_PLAINTEXT=1: exit %d\n%s", code, msg)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", key)
	if code, msg := export("--plaintext"); code != exitUsage || !strings.Contains(msg, "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Errorf("--plaintext with a credentials file: exit %d, want 2:\n%s", code, msg)
	}
}

// nonLoopbackIP returns an IPv4 address of this machine that is not a loopback one.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return ""
}

// TestExportProject names a table without its project, which --project or GOOGLE_CLOUD_PROJECT
// supplies.
func TestExportProject(t *testing.T) {
	inst := startEmulator(t)
	for _, args := range [][]string{{"--project", "bqread-test"}, nil} {
		t.Setenv("GOOGLE_CLOUD_PROJECT", "bqread-test")
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append([]string{"export", "ds.items", "--endpoint", inst.GRPCAddr(), "-o", filepath.Join(t.TempDir(), "o.ndjson"),
			"--progress", "none"}, args...), nil, &stdout, &stderr)
		if code != 0 {
			t.Errorf("export ds.items %v: exit %d\n%s", args, code, stderr.String())
		}
	}
}

// TestExportLocation refuses a table outside --location before anything is read.
func TestExportLocation(t *testing.T) {
	inst := startEmulator(t)
	for loc, want := range map[string]int{"us": 0, "US": 0, "EU": exitUsage} {
		dir := t.TempDir()
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", filepath.Join(dir, "o.ndjson"),
			"--location", loc, "--progress", "none"}, nil, &stdout, &stderr)
		if code != want || (want != 0 && !strings.Contains(stderr.String(), "is in location us, not --location EU")) {
			t.Errorf("--location %s: exit %d, want %d\n%s", loc, code, want, stderr.String())
		}
		if entries, _ := os.ReadDir(dir); want != 0 && len(entries) != 0 {
			t.Errorf("--location %s: left %v", loc, entries)
		}
	}
}
