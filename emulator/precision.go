package emulator

import (
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

// servedPrecision is the precision a session serves TIMESTAMP(12) columns in, from the
// picos_timestamp_precision of its format's serialization options: microseconds unless asked.
func servedPrecision(o *storagepb.ReadSession_TableReadOptions, format storagepb.DataFormat) (schema.Digits, error) {
	var p int32
	if format == storagepb.DataFormat_AVRO {
		p = int32(o.GetAvroSerializationOptions().GetPicosTimestampPrecision())
	} else {
		p = int32(o.GetArrowSerializationOptions().GetPicosTimestampPrecision())
	}
	// Both enums number their values alike: 0 unspecified, 1 micros, 2 nanos, 3 picos.
	switch storagepb.ArrowSerializationOptions_PicosTimestampPrecision(p) {
	case storagepb.ArrowSerializationOptions_PICOS_TIMESTAMP_PRECISION_UNSPECIFIED, storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_MICROS:
		return schema.Micros, nil
	case storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_NANOS:
		return schema.Nanos, nil
	case storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_PICOS:
		return schema.Picos, nil
	}
	return 0, status.Errorf(codes.InvalidArgument, "unknown picos_timestamp_precision %d", p)
}

// setWireSchemas gives sess the schema it serves its selected columns in: TIMESTAMP(12) columns in
// the precision asked for, and in Avro the field names Avro allows, with displayName attributes
// when enable_display_name_attribute is set. Without it, a column name Avro does not allow makes
// an Avro session INVALID_ARGUMENT, as the proto documents.
func setWireSchemas(sess *session, o *storagepb.ReadSession_TableReadOptions) error {
	p, err := servedPrecision(o, sess.format)
	if err != nil {
		return err
	}
	served := schema.Served(sess.selected, p)
	sess.wire = schema.ArrowSchema(served)
	sess.precision = p
	if sess.format == storagepb.DataFormat_AVRO {
		if o.GetAvroSerializationOptions().GetEnableDisplayNameAttribute() {
			sess.avroSchema = schema.AvroSchemaDisplayNames(served)
			return nil
		}
		if !schema.AvroNamesValid(served) {
			return status.Error(codes.InvalidArgument, "a column name is not a valid Avro field name: "+
				"set read_options.avro_serialization_options.enable_display_name_attribute, or read in Arrow")
		}
		sess.avroSchema = schema.AvroSchema(served)
		return nil
	}
	if sess.arrowSchema, err = encode.ArrowSchemaMessage(sess.wire); err != nil {
		return status.Errorf(codes.Internal, "encode Arrow schema: %v", err)
	}
	return nil
}
