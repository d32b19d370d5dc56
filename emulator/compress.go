package emulator

import (
	"sync"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/pierrec/lz4/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// responseLZ4 reads a session's read_options.response_compression_codec: whether each ReadRows
// payload is sent as one raw LZ4 block. As the proto says, the service allows at most one kind of
// compression, so LZ4 responses with Arrow buffer compression are INVALID_ARGUMENT.
func responseLZ4(o *storagepb.ReadSession_TableReadOptions) (bool, error) {
	switch c := o.GetResponseCompressionCodec(); c {
	case storagepb.ReadSession_TableReadOptions_RESPONSE_COMPRESSION_CODEC_UNSPECIFIED:
		return false, nil
	case storagepb.ReadSession_TableReadOptions_RESPONSE_COMPRESSION_CODEC_LZ4:
		if o.GetArrowSerializationOptions().GetBufferCompression() != storagepb.ArrowSerializationOptions_COMPRESSION_UNSPECIFIED {
			return false, status.Error(codes.InvalidArgument, "response_compression_codec cannot be combined with arrow_serialization_options.buffer_compression: choose at most one kind of compression")
		}
		return true, nil
	default:
		return false, status.Errorf(codes.InvalidArgument, "unknown response_compression_codec %d", c)
	}
}

var compressors = sync.Pool{New: func() any { return new(lz4.Compressor) }}

// compressPayload returns payload as one raw LZ4 block and its size before compression, or, when
// compression would not make it smaller, payload itself and -1 (ReadRowsResponse.uncompressed_byte_size).
func compressPayload(payload []byte) ([]byte, int64) {
	c := compressors.Get().(*lz4.Compressor)
	defer compressors.Put(c)
	// A destination shorter than the payload makes CompressBlock give up (n = 0, or an error) when
	// the block would not be smaller.
	dst := make([]byte, max(len(payload)-1, 0))
	n, err := c.CompressBlock(payload, dst)
	if err != nil || n == 0 || n >= len(payload) {
		return payload, -1
	}
	return dst[:n], int64(len(payload))
}
