//go:build !unix

package workdir

// lock does nothing where flock is not available: two bqread processes must not share a work dir.
func (d *Dir) lock() error { return nil }
