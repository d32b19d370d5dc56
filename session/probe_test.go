package session

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/bqread/bqread/emulator"
)

func TestProbe(t *testing.T) {
	tests := []struct {
		name string
		// start starts the peer and returns its HOST:PORT.
		start func(t *testing.T) string
		// tls reaches the peer over TLS, trusting the test certificate, instead of in plaintext.
		tls bool
		// want is a phrase of the error; "" means Probe passes.
		want string
	}{
		{name: "emulator gRPC port", start: emulatorGRPC},
		{name: "gRPC server over TLS", start: grpcTLS, tls: true},
		{name: "HTTP/1 server", start: http1Server, want: "is an HTTP/1 server"},
		{name: "emulator REST port", start: emulatorREST, want: "is an HTTP/1 server"},
		{name: "silent listener", start: silentListener, want: "sent no HTTP/2 answer"},
		{name: "closed port", start: closedPort, want: "refused the connection"},
		{name: "listener that hangs up", start: hangUp, want: "closed the connection without an HTTP/2 answer"},
		{name: "SSH-like banner", start: banner, want: `not in HTTP/2 (it sent "SSH-2.0-`},
		{name: "plaintext HTTP/2 server", start: h2cServer, want: "speaks HTTP/2 but not gRPC"},
		{name: "HTTPS server with HTTP/2", start: h2TLSServer, tls: true, want: "speaks HTTP/2 but not gRPC"},
		{name: "HTTPS server with HTTP/1 only", start: http1TLSServer, tls: true, want: "TLS handshake with"},
		{name: "TLS server without ALPN", start: tlsNoALPN, tls: true, want: "does not offer HTTP/2 over TLS"},
		{name: "TLS to a plaintext gRPC server", start: emulatorGRPC, tls: true, want: "answered in plaintext, not TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			endpoint := tt.start(t)
			err := probeWithin(t, func(ctx context.Context) error {
				if tt.tls {
					return probe(ctx, endpoint, &tls.Config{ServerName: "127.0.0.1", RootCAs: testCert(t).pool})
				}
				return Probe(ctx, endpoint, false)
			})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Probe(%s) = %v, want nil", endpoint, err)
				}
				return
			}
			if !errors.Is(err, ErrEndpoint) {
				t.Fatalf("Probe(%s) = %v, want an error wrapping ErrEndpoint", endpoint, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, endpoint) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("Probe(%s) = %q, want one line naming the endpoint and saying %q", endpoint, msg, tt.want)
			}
		})
	}
}

// TestProbeUntrustedCertificate checks that a TLS certificate that does not verify is named.
func TestProbeUntrustedCertificate(t *testing.T) {
	endpoint := grpcTLS(t)
	err := probeWithin(t, func(ctx context.Context) error {
		return probe(ctx, endpoint, &tls.Config{ServerName: "127.0.0.1"})
	})
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); !ok || !errors.Is(err, ErrEndpoint) {
		t.Fatalf("Probe = %v, want ErrEndpoint wrapping a certificate verification error", err)
	}
	if !strings.Contains(err.Error(), endpoint+" presented a certificate that does not verify") {
		t.Errorf("Probe = %q, want it to name %s's certificate", err, endpoint)
	}
}

// TestProbeCancel checks that a cancelled ctx ends the probe with ctx's error, not ErrEndpoint.
func TestProbeCancel(t *testing.T) {
	endpoint := silentListener(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := probeWithin(t, func(context.Context) error { return Probe(ctx, endpoint, false) })
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrEndpoint) {
		t.Fatalf("Probe = %v, want context.Canceled and not ErrEndpoint", err)
	}
}

func TestProbeNotProbed(t *testing.T) {
	// The empty endpoint is the Google service's: reachable (nil) or named in the error.
	if err := probeWithin(t, func(ctx context.Context) error { return Probe(ctx, "", false) }); err != nil &&
		(!errors.Is(err, ErrEndpoint) || !strings.Contains(err.Error(), DefaultEndpoint)) {
		t.Errorf("Probe(\"\") = %v, want nil or an error naming %s", err, DefaultEndpoint)
	}
	err := Probe(t.Context(), "127.0.0.1", false)
	if err == nil || errors.Is(err, ErrEndpoint) {
		t.Errorf("Probe(127.0.0.1) = %v, want IsLoopback's HOST:PORT error", err)
	}
}

// probeWithin runs probe and fails the test if it has not returned well after ProbeTimeout: a
// safety net against a hang, not a measure of speed.
func probeWithin(t *testing.T, probe func(context.Context) error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- probe(t.Context()) }()
	select {
	case err := <-done:
		return err
	case <-time.After(ProbeTimeout + 10*time.Second):
		t.Fatalf("Probe hung: no answer %v after ProbeTimeout (%v)", 10*time.Second, ProbeTimeout)
		return nil
	}
}

func startEmulator(t *testing.T) *emulator.Instance {
	inst, err := emulator.Start(t.Context(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

func emulatorGRPC(t *testing.T) string { return startEmulator(t).GRPCAddr() }

func emulatorREST(t *testing.T) string { return startEmulator(t).HTTPAddr() }

// grpcTLS is a gRPC server over TLS that serves no service: every call gets UNIMPLEMENTED.
func grpcTLS(t *testing.T) string {
	ln := listen(t)
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{testCert(t).cert}})))
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func http1Server(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// h2cServer serves HTTP/1 and HTTP/2 with prior knowledge, in plaintext.
func h2cServer(t *testing.T) string {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func h2TLSServer(t *testing.T) string {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func http1TLSServer(t *testing.T) string {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake error that the test makes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// tlsNoALPN completes TLS handshakes without ALPN, then says nothing.
func tlsNoALPN(t *testing.T) string {
	ln := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{testCert(t).cert}})
	serve(t, ln, func(c net.Conn) { c.(*tls.Conn).Handshake() })
	return ln.Addr().String()
}

// silentListener accepts connections and never writes.
func silentListener(t *testing.T) string {
	ln := listen(t)
	serve(t, ln, func(net.Conn) {})
	return ln.Addr().String()
}

// hangUp closes every connection it accepts at once.
func hangUp(t *testing.T) string {
	ln := listen(t)
	serve(t, ln, func(c net.Conn) { c.Close() })
	return ln.Addr().String()
}

func banner(t *testing.T) string {
	ln := listen(t)
	serve(t, ln, func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n")) })
	return ln.Addr().String()
}

// closedPort is a loopback port that was free a moment ago.
func closedPort(t *testing.T) string {
	ln := listen(t)
	ln.Close()
	return ln.Addr().String()
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serve calls handle on each connection that ln accepts; the connections stay open until the
// test ends.
func serve(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			handle(c)
		}
	}()
}

type certs struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// testCert is the httptest package's certificate for 127.0.0.1, and a pool that trusts it.
func testCert(t *testing.T) certs {
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return certs{cert: srv.TLS.Certificates[0], pool: pool}
}
