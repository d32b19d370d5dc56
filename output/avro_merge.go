package output

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errAvroFile is wrapped by errors for a malformed Avro object container file.
var errAvroFile = errors.New("output: malformed Avro container file")

// avroHeader is what merge needs from a part's header.
type avroHeader struct {
	schema, codec string
	sync          [16]byte
	size          int64 // bytes up to and with the sync marker
}

// avroMerger writes the parts, Avro container files of one schema and codec, as one file: the
// first part's header, then every part's blocks copied byte for byte, each followed by the first
// part's sync marker. No row is decoded or decompressed.
type avroMerger struct {
	out   *CountingWriter
	first *avroHeader
}

func newAvroMerger(dst io.Writer, _ Options) partMerger {
	return &avroMerger{out: &CountingWriter{W: dst}}
}

func (m *avroMerger) add(_ int, p Part) error {
	h, err := readAvroHeader(p)
	if err != nil {
		return err
	}
	if m.first == nil {
		m.first = h
		if err := copyRange(m.out, p.R, 0, h.size); err != nil {
			return fmt.Errorf("header: %w", err)
		}
	} else if h.schema != m.first.schema || h.codec != m.first.codec {
		return fmt.Errorf("schema or codec (%s) differs from the first part's (%s): parts of one merge must come from one session and one codec",
			h.codec, m.first.codec)
	}
	return copyAvroBlocks(m.out, p, h, m.first.sync[:])
}

func (m *avroMerger) close([]int) error { return nil }

// readAvroHeader reads and checks the header of part p.
func readAvroHeader(p Part) (*avroHeader, error) {
	r := &countingReader{r: bufio.NewReaderSize(io.NewSectionReader(p.R, 0, p.Size), 64<<10)}
	magic := make([]byte, len(avroMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, avroMagic) {
		return nil, fmt.Errorf("%w: no Avro magic", errAvroFile)
	}
	meta := map[string]string{}
	for {
		n, err := readAvroLong(r)
		if err != nil {
			return nil, fmt.Errorf("%w: metadata: %v", errAvroFile, err)
		}
		if n == 0 {
			break
		}
		if n < 0 { // a negative count is followed by the block's size in bytes
			if _, err := readAvroLong(r); err != nil {
				return nil, fmt.Errorf("%w: metadata: %v", errAvroFile, err)
			}
			n = -n
		}
		for ; n > 0; n-- {
			k, err := readAvroBytes(r, p.Size)
			if err != nil {
				return nil, fmt.Errorf("%w: metadata key: %v", errAvroFile, err)
			}
			v, err := readAvroBytes(r, p.Size)
			if err != nil {
				return nil, fmt.Errorf("%w: metadata value: %v", errAvroFile, err)
			}
			meta[string(k)] = string(v)
		}
	}
	h := &avroHeader{schema: meta["avro.schema"], codec: meta["avro.codec"]}
	if h.codec == "" {
		h.codec = "null"
	}
	if h.schema == "" {
		return nil, fmt.Errorf("%w: no avro.schema in the header", errAvroFile)
	}
	if _, err := io.ReadFull(r, h.sync[:]); err != nil {
		return nil, fmt.Errorf("%w: sync marker: %v", errAvroFile, err)
	}
	h.size = r.n
	return h, nil
}

func readAvroLong(r io.ByteReader) (int64, error) {
	u, err := binary.ReadUvarint(r)
	return int64(u>>1) ^ -int64(u&1), err
}

// readAvroBytes reads a length-prefixed byte string of at most limit bytes.
func readAvroBytes(r *countingReader, limit int64) ([]byte, error) {
	n, err := readAvroLong(r)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > limit {
		return nil, fmt.Errorf("length %d", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// copyAvroBlocks copies the blocks of part p, whose header is h, to out, ending each with sync
// instead of the part's own marker.
func copyAvroBlocks(out *CountingWriter, p Part, h *avroHeader, sync []byte) error {
	var head [2 * binary.MaxVarintLen64]byte
	var marker [16]byte
	for off, block := h.size, 0; off < p.Size; block++ {
		n, err := p.R.ReadAt(head[:min(int64(len(head)), p.Size-off)], off)
		if err != nil && !(errors.Is(err, io.EOF) && off+int64(n) == p.Size) {
			return fmt.Errorf("block %d: %w", block, err)
		}
		count, k1 := binary.Uvarint(head[:n])
		size, k2 := binary.Uvarint(head[max(k1, 0):n])
		if k1 <= 0 || k2 <= 0 || count&1 == 1 || size&1 == 1 {
			return fmt.Errorf("%w: block %d at offset %d: bad count or size", errAvroFile, block, off)
		}
		end := off + int64(k1+k2) + int64(size>>1)
		if size>>1 > uint64(p.Size) || end+int64(len(marker)) > p.Size {
			return fmt.Errorf("%w: block %d at offset %d runs past the end of the file", errAvroFile, block, off)
		}
		if _, err := p.R.ReadAt(marker[:], end); err != nil {
			return fmt.Errorf("block %d: %w", block, err)
		}
		if marker != h.sync {
			return fmt.Errorf("%w: block %d at offset %d does not end with the file's sync marker", errAvroFile, block, off)
		}
		if err := copyRange(out, p.R, off, end-off); err != nil {
			return fmt.Errorf("block %d: %w", block, err)
		}
		if _, err := out.Write(sync); err != nil {
			return fmt.Errorf("block %d: %w", block, err)
		}
		off = end + int64(len(marker))
	}
	return nil
}
