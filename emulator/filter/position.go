package filter

import (
	"errors"
	"fmt"
)

// posError is an error of the row restriction at a byte offset of it.
type posError struct {
	pos int
	msg string
}

func (e *posError) Error() string {
	return fmt.Sprintf("%v: %s at position %d", ErrInvalid, e.msg, e.pos+1)
}

func (e *posError) Unwrap() error { return ErrInvalid }

// Position returns what an error of Parse says without its position, and the byte offset in the
// expression it is about; ok is false for other errors. A caller that parsed a part of a larger
// text (the WHERE clause of a query) uses it to point into that text.
func Position(err error) (msg string, offset int, ok bool) {
	var pe *posError
	if !errors.As(err, &pe) {
		return "", 0, false
	}
	return pe.msg, pe.pos, true
}
