package session

import (
	"errors"
	"testing"
)

// TestRequestTimestampPrecision: the precision goes into the serialization options of the data
// format asked for, and an Avro request always asks for display names (flexible column names).
func TestRequestTimestampPrecision(t *testing.T) {
	for _, tc := range []struct {
		name      string
		req       Request
		want      int32
		wantError bool
	}{
		{"default arrow", Request{}, 0, false},
		{"nanos arrow", Request{TimestampPrecision: "nanos"}, 2, false},
		{"picos arrow", Request{TimestampPrecision: "PICOS"}, 3, false},
		{"micros avro", Request{TimestampPrecision: "micros", DataFormat: FormatAvro}, 1, false},
		{"picos avro", Request{TimestampPrecision: "picos", DataFormat: FormatAvro}, 3, false},
		{"unknown", Request{TimestampPrecision: "hours"}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Table = TableRef{"p", "d", "t"}
			req, err := tc.req.Proto()
			if tc.wantError {
				if !errors.Is(err, ErrRequest) {
					t.Fatalf("Proto() error = %v, want ErrRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ro := req.GetReadSession().GetReadOptions()
			got := int32(ro.GetArrowSerializationOptions().GetPicosTimestampPrecision())
			if tc.req.DataFormat == FormatAvro {
				got = int32(ro.GetAvroSerializationOptions().GetPicosTimestampPrecision())
				if !ro.GetAvroSerializationOptions().GetEnableDisplayNameAttribute() {
					t.Error("an Avro request without enable_display_name_attribute")
				}
			}
			if got != tc.want {
				t.Errorf("picos_timestamp_precision = %d, want %d", got, tc.want)
			}
		})
	}
}
