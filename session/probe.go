package session

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// ProbeTimeout bounds Probe: the dial, the TLS and HTTP/2 handshakes and one gRPC call together
// take at most this long.
const ProbeTimeout = 5 * time.Second

// ErrEndpoint is wrapped by Probe's errors for an endpoint that is not a reachable gRPC server.
var ErrEndpoint = errors.New("session: not a gRPC endpoint")

// probeMethod is the gRPC method Probe calls: the standard health check, which every gRPC server
// answers in gRPC, with UNIMPLEMENTED if it does not serve it.
const probeMethod = "/grpc.health.v1.Health/Check"

// DefaultEndpoint is the Storage Read API of the Google service.
const DefaultEndpoint = "bigquerystorage.googleapis.com:443"

// Probe checks, within ProbeTimeout, that endpoint (HOST:PORT) is a gRPC server, so that a wrong
// endpoint fails in seconds instead of after the client library's minutes of retries. It connects
// as NewClient does (plaintext to a loopback endpoint, TLS with ALPN h2 otherwise), completes the
// HTTP/2 handshake and makes one call to the gRPC health service without credentials; any answer
// in gRPC, an error status included, passes.
//
// An empty endpoint is the Google service, DefaultEndpoint, so that a machine with no route to
// it (DNS, firewall, TLS interception) hears why in seconds. A non-loopback endpoint that
// HTTPS_PROXY routes through a proxy is not probed, as gRPC would go through the proxy. An endpoint that is not HOST:PORT gets
// IsLoopback's error. Every other error is one line that names the endpoint and what it did,
// and wraps ErrEndpoint (and, for a failed dial or TLS handshake, the underlying error), except
// that when ctx ends first Probe returns ctx's error instead.
func Probe(ctx context.Context, endpoint string, plaintext bool) error {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	loopback, err := IsLoopback(endpoint)
	if err != nil {
		return err
	}
	if loopback || plaintext {
		return probe(ctx, endpoint, nil)
	}
	req := &http.Request{URL: &url.URL{Scheme: "https", Host: endpoint}}
	if proxy, err := http.ProxyFromEnvironment(req); err != nil || proxy != nil {
		return nil
	}
	host, _, _ := net.SplitHostPort(endpoint)
	return probe(ctx, endpoint, &tls.Config{ServerName: host})
}

// probe is Probe for an endpoint reached in plaintext (conf nil) or over TLS with conf, of which
// it uses a copy that offers only ALPN h2.
func probe(ctx context.Context, endpoint string, conf *tls.Config) (err error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	defer func() {
		if err != nil && parent.Err() != nil {
			err = fmt.Errorf("probe %s: %w", endpoint, context.Cause(parent))
		}
	}()

	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", endpoint)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %s refused the connection (nothing listens on that port): check the host and port, or start the server", ErrEndpoint, endpoint)
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %s did not accept a connection within %v: check the host, the port and the network", ErrEndpoint, endpoint, ProbeTimeout)
	case err != nil:
		return fmt.Errorf("%w: %s: %w: check the host and port", ErrEndpoint, endpoint, err)
	}
	defer c.Close()
	// Every read and write below ends when ctx does.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if conf != nil {
		conf = conf.Clone()
		conf.NextProtos = []string{"h2"}
		tc := tls.Client(c, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return tlsError(endpoint, err)
		}
		if tc.ConnectionState().NegotiatedProtocol != "h2" {
			return fmt.Errorf("%w: %s does not offer HTTP/2 over TLS (ALPN h2): check the host and port", ErrEndpoint, endpoint)
		}
		c = tc
	}

	br := bufio.NewReader(c)
	fr := http2.NewFramer(c, br)
	fr.SetMaxReadFrameSize(16 << 10) // the default that the empty SETTINGS below leaves in place
	fr.ReadMetaHeaders = hpack.NewDecoder(4<<10, nil)
	if err := serverPreface(endpoint, c, fr, br); err != nil {
		return err
	}
	return grpcCall(endpoint, conf != nil, fr)
}

// serverPreface sends the client's HTTP/2 preface (prior knowledge on plaintext) and reads the
// server's, which must be a SETTINGS frame.
func serverPreface(endpoint string, c net.Conn, fr *http2.Framer, br *bufio.Reader) error {
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return noAnswer(endpoint, nil, err)
	}
	if err := fr.WriteSettings(); err != nil {
		return noAnswer(endpoint, nil, err)
	}
	first, err := br.Peek(len("HTTP/"))
	if err != nil {
		return noAnswer(endpoint, first, err)
	}
	if string(first) == "HTTP/" {
		line, _ := br.ReadSlice('\n')
		return fmt.Errorf("%w: %s is an HTTP/1 server (it answered %q): check the port", ErrEndpoint, endpoint, statusLine(line))
	}
	head, _ := br.Peek(min(br.Buffered(), 16))
	head = bytes.Clone(head)
	f, err := fr.ReadFrame()
	if sf, ok := f.(*http2.SettingsFrame); err != nil || !ok || sf.IsAck() {
		return noAnswer(endpoint, head, err)
	}
	return fr.WriteSettingsAck()
}

// grpcCall calls probeMethod on stream 1 with one empty message and reads until the answer's
// headers, which must be gRPC's.
func grpcCall(endpoint string, secure bool, fr *http2.Framer) error {
	scheme := "http"
	if secure {
		scheme = "https"
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{
		{":method", "POST"}, {":scheme", scheme}, {":path", probeMethod}, {":authority", endpoint},
		{"content-type", "application/grpc"}, {"te", "trailers"}, {"user-agent", "bqread-probe"},
	} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	if err == nil {
		// One gRPC message: not compressed, 0 bytes long (an empty HealthCheckRequest).
		err = fr.WriteData(1, true, make([]byte, 5))
	}
	for err == nil {
		var f http2.Frame
		if f, err = fr.ReadFrame(); err != nil {
			break
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			var ct string
			for _, hf := range f.RegularFields() {
				switch hf.Name {
				case "grpc-status":
					return nil
				case "content-type":
					ct = hf.Value
				}
			}
			if strings.HasPrefix(ct, "application/grpc") {
				return nil
			}
			return fmt.Errorf("%w: %s speaks HTTP/2 but not gRPC (it answered a gRPC call with status %s, content-type %q): check the port", ErrEndpoint, endpoint, f.PseudoValue("status"), ct)
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return fmt.Errorf("%w: %s speaks HTTP/2 but reset a gRPC call (%v) without an answer: check the port", ErrEndpoint, endpoint, f.ErrCode)
			}
		case *http2.GoAwayFrame:
			if f.LastStreamID < 1 {
				return fmt.Errorf("%w: %s speaks HTTP/2 but refused a gRPC call (GOAWAY %v): check the port", ErrEndpoint, endpoint, f.ErrCode)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				err = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				err = fr.WritePing(true, f.Data)
			}
		}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %s speaks HTTP/2 but did not answer a gRPC call within %v: check the port", ErrEndpoint, endpoint, ProbeTimeout)
	}
	return fmt.Errorf("%w: %s speaks HTTP/2 but broke off a gRPC call (%v): check the port", ErrEndpoint, endpoint, err)
}

// noAnswer is the error for a server that sent got (perhaps nothing) instead of an HTTP/2
// preface, and then err.
func noAnswer(endpoint string, got []byte, err error) error {
	switch {
	case len(got) > 0:
		return fmt.Errorf("%w: %s answered, but not in HTTP/2 (it sent %q): check the port", ErrEndpoint, endpoint, got)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: %s accepted the connection but sent no HTTP/2 answer within %v: check the port", ErrEndpoint, endpoint, ProbeTimeout)
	default:
		return fmt.Errorf("%w: %s closed the connection without an HTTP/2 answer: check the port", ErrEndpoint, endpoint)
	}
}

// tlsError names a failed TLS handshake with endpoint.
func tlsError(endpoint string, err error) error {
	_, plain := errors.AsType[tls.RecordHeaderError](err)
	_, verify := errors.AsType[*tls.CertificateVerificationError](err)
	switch {
	case plain:
		return fmt.Errorf("%w: %s answered in plaintext, not TLS (%w): check the port", ErrEndpoint, endpoint, err)
	case verify:
		return fmt.Errorf("%w: %s presented a certificate that does not verify (%w): check the host name and the trusted CAs", ErrEndpoint, endpoint, err)
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s did not complete a TLS handshake within %v: check the port", ErrEndpoint, endpoint, ProbeTimeout)
	default:
		return fmt.Errorf("%w: TLS handshake with %s: %w: check the host and port", ErrEndpoint, endpoint, err)
	}
}

// statusLine is line, the start of an HTTP/1 response, trimmed to its first 64 bytes.
func statusLine(line []byte) string {
	s := strings.TrimSpace(string(line))
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}
