package store

import (
	"errors"
	"os"
	"testing"
)

func TestNewDirCreatesNothing(t *testing.T) {
	missing := t.TempDir() + "/missing"
	if _, err := NewDir(missing); err == nil {
		t.Error("NewDir of a missing directory = nil error, want one")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewDir created %s", missing)
	}
}
