package storetest

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Objects returns the keys of every object of a bucket, temp objects included, in order. It reads
// the server's own storage, not through bqread's store nor over HTTP, so it neither depends on
// the code under test nor passes OnRequest or counts in Traffic.
func (s *Server) Objects(t testing.TB, bucket string) []string {
	t.Helper()
	keys, err := s.list(bucket)
	if err != nil {
		t.Fatalf("list %s: %v", s.URL(bucket, ""), err)
	}
	slices.Sort(keys)
	return keys
}

// Download copies the object key of a bucket, read from the server's own storage as Objects
// reads, to a file in a temp dir of the test, for readers of files, and returns the file's path.
func (s *Server) Download(t testing.TB, bucket, key string) string {
	t.Helper()
	o, err := s.open(bucket, key)
	if err != nil {
		t.Fatalf("open %s: %v", s.URL(bucket, key), err)
	}
	defer o.Close()
	path := filepath.Join(t.TempDir(), filepath.Base(key))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, o); err != nil {
		t.Fatal(err)
	}
	return path
}
