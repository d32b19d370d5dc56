package decode

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// validateRecord checks that every column of rec is structurally sound: lengths, null counts,
// buffer sizes and offsets agree, so that reading any value cannot go out of bounds. arrow-go's IPC
// reader trusts the message metadata, which comes from the network here.
func validateRecord(rec arrow.Record) error {
	for i, col := range rec.Columns() {
		if int64(col.Len()) != rec.NumRows() {
			return fmt.Errorf("%w: column %q has %d values in a batch of %d rows", ErrCorrupt, rec.ColumnName(i), col.Len(), rec.NumRows())
		}
		if err := validateData(col.Data()); err != nil {
			return fmt.Errorf("column %q: %w", rec.ColumnName(i), err)
		}
	}
	return nil
}

func validateData(d arrow.ArrayData) error { return validateAs(d, d.DataType()) }

// validateAs checks d as an array of type dt (an extension type's storage type for extension
// arrays).
func validateAs(d arrow.ArrayData, dt arrow.DataType) error {
	off, n := d.Offset(), d.Len()
	if off < 0 || n < 0 || off > int(^uint32(0)) || n > int(^uint32(0)) {
		return fmt.Errorf("%w: array offset %d, length %d", ErrCorrupt, off, n)
	}
	end := off + n
	bufs := d.Buffers()
	if err := validateNulls(d, bufs, off, n); err != nil {
		return err
	}
	switch dt := dt.(type) {
	case arrow.ExtensionType:
		return validateAs(d, dt.StorageType())
	case *arrow.BooleanType:
		return needBytes(bufs, 1, int64(bitutil.BytesForBits(int64(end))))
	case arrow.FixedWidthDataType:
		return needBytes(bufs, 1, int64(end)*int64(dt.BitWidth()/8))
	case *arrow.StringType, *arrow.BinaryType:
		last, err := validateOffsets(bufs, off, n)
		if err != nil {
			return err
		}
		return needBytes(bufs, 2, last)
	case *arrow.ListType:
		last, err := validateOffsets(bufs, off, n)
		if err != nil {
			return err
		}
		child := d.Children()[0]
		if int64(child.Len()) < last {
			return fmt.Errorf("%w: list offsets reach %d, its values are %d long", ErrCorrupt, last, child.Len())
		}
		return validateData(child)
	case *arrow.StructType:
		for _, child := range d.Children() {
			if child.Len() < end {
				return fmt.Errorf("%w: struct field of %d values in a struct of %d", ErrCorrupt, child.Len(), end)
			}
			if err := validateData(child); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: unexpected Arrow type %s", ErrCorrupt, d.DataType())
}

// validateNulls checks the validity bitmap against the null count.
func validateNulls(d arrow.ArrayData, bufs []*memory.Buffer, off, n int) error {
	nulls := d.NullN()
	if nulls < 0 || nulls > n {
		return fmt.Errorf("%w: %d nulls in an array of %d", ErrCorrupt, nulls, n)
	}
	if len(bufs) == 0 || bufs[0] == nil || bufs[0].Len() == 0 {
		if nulls != 0 {
			return fmt.Errorf("%w: %d nulls without a validity bitmap", ErrCorrupt, nulls)
		}
		return nil
	}
	if err := needBytes(bufs, 0, int64(bitutil.BytesForBits(int64(off+n)))); err != nil {
		return err
	}
	if set := bitutil.CountSetBits(bufs[0].Bytes(), off, n); n-set != nulls {
		return fmt.Errorf("%w: null count %d, validity bitmap has %d", ErrCorrupt, nulls, n-set)
	}
	return nil
}

// validateOffsets checks the int32 offsets of a string, binary or list array (non-decreasing, from
// zero or more) and returns the last one.
func validateOffsets(bufs []*memory.Buffer, off, n int) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	if err := needBytes(bufs, 1, int64(off+n+1)*4); err != nil {
		return 0, err
	}
	offsets := arrow.Int32Traits.CastFromBytes(bufs[1].Bytes())[off : off+n+1]
	prev := offsets[0]
	if prev < 0 {
		return 0, fmt.Errorf("%w: negative offset %d", ErrCorrupt, prev)
	}
	for _, o := range offsets[1:] {
		if o < prev {
			return 0, fmt.Errorf("%w: offsets decrease from %d to %d", ErrCorrupt, prev, o)
		}
		prev = o
	}
	return int64(prev), nil
}

func needBytes(bufs []*memory.Buffer, i int, n int64) error {
	if n == 0 {
		return nil
	}
	if len(bufs) <= i || bufs[i] == nil || int64(bufs[i].Len()) < n {
		return fmt.Errorf("%w: buffer %d is shorter than the %d bytes its array needs", ErrCorrupt, i, n)
	}
	return nil
}
