// Package decode turns Storage Read payloads (bare Arrow IPC record batch messages, or Avro binary
// rows) into arrow.Record values whose schema is the session's Arrow schema. It does no I/O and
// knows nothing of gRPC. Payloads come from the network: every malformed one gives an error wrapping
// ErrCorrupt, never a panic, a short record or an allocation sized by a bogus length.
package decode

import (
	"errors"

	"github.com/apache/arrow-go/v18/arrow"
)

// ErrCorrupt is wrapped by every error about a payload that cannot be decoded: truncated, garbage,
// or holding another number of rows than the response says. Retrying the read from the same
// offset is the remedy when the corruption happened in transit.
var ErrCorrupt = errors.New("decode: corrupt payload")

// Decoder decodes the payloads of one read session. A Decoder is not safe for concurrent use: give
// each stream its own.
type Decoder interface {
	// Decode decodes one ReadRowsResponse payload holding rows rows (its row_count). The caller
	// releases the record. An Arrow record may share payload's memory (uncompressed buffers are
	// not copied): the caller must not modify payload while the record lives. Avro records do not.
	Decode(payload []byte, rows int64) (arrow.Record, error)
	// Schema is the Arrow schema of every record Decode returns.
	Schema() *arrow.Schema
}
