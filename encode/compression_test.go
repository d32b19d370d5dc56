package encode_test

import (
	"errors"
	"testing"

	"github.com/bqread/bqread/encode"
)

func TestParseArrowCompression(t *testing.T) {
	for name, want := range map[string]encode.ArrowCompression{
		"": encode.ArrowUncompressed, "none": encode.ArrowUncompressed, "Uncompressed": encode.ArrowUncompressed,
		"lz4": encode.ArrowLZ4, "LZ4_FRAME": encode.ArrowLZ4, "zstd": encode.ArrowZstd, "ZSTD": encode.ArrowZstd,
	} {
		if got, err := encode.ParseArrowCompression(name); err != nil || got != want {
			t.Errorf("ParseArrowCompression(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"gzip", "snappy", "lz4_raw", " zstd"} {
		if _, err := encode.ParseArrowCompression(name); !errors.Is(err, encode.ErrUnknownCompression) {
			t.Errorf("ParseArrowCompression(%q) err = %v, want ErrUnknownCompression", name, err)
		}
	}
	for c, want := range map[encode.ArrowCompression]int{encode.ArrowUncompressed: 0, encode.ArrowLZ4: 1, encode.ArrowZstd: 1} {
		if got := len(c.IPCOptions()); got != want {
			t.Errorf("%q.IPCOptions() has %d options, want %d", c, got, want)
		}
	}
}
