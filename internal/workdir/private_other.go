//go:build !unix

package workdir

// checkPrivate checks that path is a real directory; owners and modes are not checked where
// they are not Unix's.
func checkPrivate(path string) error {
	_, err := lstatDir(path)
	return err
}
