// Package storetest runs object-store servers in the test's process for tests of gs:// and s3://
// places: fake-gcs-server (the GCS JSON and XML APIs) and gofakes3 (the S3 API), each on its own
// loopback listener, reached by the official clients through STORAGE_EMULATOR_HOST and
// AWS_ENDPOINT_URL, which it sets for the test (and so for the processes the test starts).
package storetest

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// DeniedBucket is a bucket name both servers answer 403 for, as a service answers a caller
// without permission on a bucket.
const DeniedBucket = "denied-bucket"

// Server is a running object-store server.
type Server struct {
	// Scheme is gs or s3.
	Scheme string
	create func(name string)
	list   func(bucket string) ([]string, error)           // the keys of a bucket's objects
	open   func(bucket, key string) (io.ReadCloser, error) // an object's bytes
	hook   atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
	in     atomic.Int64 // bytes received on the server's connections
	out    atomic.Int64 // and sent
}

// OnRequest has f called with each request the server receives, until the test ends; f may
// block to hold the request, and it answers it itself by returning true, else the server
// answers. Only the last f set is called.
func (s *Server) OnRequest(f func(w http.ResponseWriter, r *http.Request) bool) { s.hook.Store(&f) }

// hooked calls the OnRequest function, if any, before h.
func (s *Server) hooked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := s.hook.Load(); f != nil && (*f)(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

// URL returns scheme://bucket/key.
func (s *Server) URL(bucket, key string) string { return s.Scheme + "://" + bucket + "/" + key }

// CreateBucket creates an empty bucket.
func (s *Server) CreateBucket(name string) { s.create(name) }

// GCS starts fake-gcs-server and points STORAGE_EMULATOR_HOST at it for the test.
func GCS(t testing.TB) *Server { return gcs(t, "") }

// GCSOnDisk is GCS with the objects kept in files under root rather than in memory, and
// composed by streaming, for tests and benchmarks of large objects.
func GCSOnDisk(t testing.TB, root string) *Server { return gcs(t, root) }

func gcs(t testing.TB, root string) *Server {
	l := listen(t)
	addr := l.Addr().String()
	// The Go client reads objects by the XML path, which the server serves on its public host.
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Scheme: "http", PublicHost: addr, ExternalURL: "http://" + addr, StorageRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Scheme: "gs", create: func(name string) {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	}, list: func(bucket string) ([]string, error) {
		objs, _, err := srv.ListObjectsWithOptions(bucket, fakestorage.ListOptions{})
		var keys []string
		for _, o := range objs {
			keys = append(keys, o.Name)
		}
		return keys, err
	}, open: func(bucket, key string) (io.ReadCloser, error) {
		o, err := srv.GetObjectStreaming(bucket, key)
		return o.Content, err
	}}
	s.serve(t, l, s.hooked(denyGCS(srv.HTTPHandler())))
	t.Setenv("STORAGE_EMULATOR_HOST", addr)
	return s
}

// S3 starts gofakes3 and points AWS_ENDPOINT_URL at it for the test, with static credentials
// (the server checks none) and a region.
func S3(t testing.TB) *Server {
	l := listen(t)
	backend := s3mem.New()
	s := &Server{Scheme: "s3", create: func(name string) {
		if err := backend.CreateBucket(name); err != nil {
			t.Fatal(err)
		}
	}, list: func(bucket string) ([]string, error) {
		objs, err := backend.ListBucket(bucket, nil, gofakes3.ListBucketPage{})
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, o := range objs.Contents {
			keys = append(keys, o.Key)
		}
		return keys, nil
	}, open: func(bucket, key string) (io.ReadCloser, error) {
		o, err := backend.GetObject(bucket, key, nil)
		if err != nil {
			return nil, err
		}
		return o.Contents, nil
	}}
	s.serve(t, l, s.hooked(denyS3(gofakes3.New(backend).Server())))
	t.Setenv("AWS_ENDPOINT_URL", "http://"+l.Addr().String())
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return s
}

// NoCredentials sets, for the test, an environment in which neither the Google Cloud nor the AWS
// client finds credentials: no GCS emulator host (which needs none), no keys, and credential and
// config files that do not exist.
func NoCredentials(t testing.TB) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "missing"))
}

// Both starts both servers, for tests that run over each.
func Both(t testing.TB) []*Server { return []*Server{GCS(t), S3(t)} }

func listen(t testing.TB) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// serve serves h on l until the test ends, counting the bytes of its connections (Traffic).
func (s *Server) serve(t testing.TB, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h}
	go srv.Serve(&countingListener{Listener: l, in: &s.in, out: &s.out})
	t.Cleanup(func() { srv.Close() })
}

// Traffic returns the bytes the server has received and sent on its connections so far: requests
// and responses, headers included, so that a test can tell how many bytes went between its
// clients and the store.
func (s *Server) Traffic() (received, sent int64) { return s.in.Load(), s.out.Load() }

// countingListener counts the bytes read from and written to its connections.
type countingListener struct {
	net.Listener
	in, out *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.l.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.l.out.Add(int64(n))
	return n, err
}

// denyGCS answers 403, as GCS does, for every request naming DeniedBucket.
func denyGCS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/"+DeniedBucket) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":403,"message":"caller does not have storage.objects.list access to the Google Cloud Storage bucket.","errors":[{"reason":"forbidden"}]}}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// denyS3 answers 403 AccessDenied, as S3 does, for every request naming DeniedBucket.
func denyS3(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/"+DeniedBucket) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Composes counts the compose requests a GCS server receives, and refuses one of them.
type Composes struct {
	n    atomic.Int64
	fail int64
}

// WatchCompose counts the compose requests of the GCS server s from now on (its OnRequest
// function) and refuses the one numbered fail (from 1; 0 for none) with a 400, which no client
// retries, as a service refuses a request part way through a tree of composes.
func WatchCompose(s *Server, fail int) *Composes {
	c := &Composes{fail: int64(fail)}
	s.OnRequest(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/compose") || c.n.Add(1) != c.fail {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"code":400,"message":"compose refused by the test (storetest.WatchCompose)","errors":[{"reason":"invalid"}]}}`))
		return true
	})
	return c
}

// Count returns how many compose requests were received.
func (c *Composes) Count() int64 { return c.n.Load() }
