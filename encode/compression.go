package encode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// ArrowCompression is the body compression of Arrow IPC record batches, on the Storage Read wire
// (arrow_serialization_options.buffer_compression) and in Arrow files. Its values are the
// canonical names.
type ArrowCompression string

// The Arrow body compressions.
const (
	ArrowUncompressed ArrowCompression = ""
	ArrowLZ4          ArrowCompression = "lz4"  // LZ4_FRAME
	ArrowZstd         ArrowCompression = "zstd" // ZSTD
)

// ErrUnknownCompression is wrapped by ParseArrowCompression's errors.
var ErrUnknownCompression = errors.New("encode: unknown Arrow compression")

// ParseArrowCompression reads a body compression name, in any case: none ("" and "uncompressed"
// too), lz4 ("lz4_frame" too) or zstd.
func ParseArrowCompression(name string) (ArrowCompression, error) {
	switch strings.ToLower(name) {
	case "", "none", "uncompressed":
		return ArrowUncompressed, nil
	case "lz4", "lz4_frame":
		return ArrowLZ4, nil
	case "zstd":
		return ArrowZstd, nil
	}
	return "", fmt.Errorf("%w %q: use none, lz4 or zstd", ErrUnknownCompression, name)
}

// IPCOptions returns the Arrow IPC writer options that compress bodies with c: none for
// ArrowUncompressed.
func (c ArrowCompression) IPCOptions() []ipc.Option {
	switch c {
	case ArrowLZ4:
		return []ipc.Option{ipc.WithLZ4()}
	case ArrowZstd:
		return []ipc.Option{ipc.WithZstd()}
	}
	return nil
}
