package event

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	events := []Event{
		{Kind: Start, Stream: 3, Pid: 10, Offset: 500},
		{Kind: Progress, Stream: 3, Rows: 1000, Bytes: 4096, Progress: 0.25},
		{Kind: Segment, Stream: 3, Path: "stream-000003/seg-000000000000-000000001000.parquet", Lo: 0, Hi: 1000, Size: 77},
		{Kind: Retry, Stream: 3, Offset: 1000, Message: "unavailable"},
		{Kind: Done, Stream: 3, Rows: 2000, Attempts: 2, Retries: 1},
		{Kind: Error, Stream: 3, Class: Fatal, Message: "permission denied"},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, e := range events {
		if err := w.Send(e); err != nil {
			t.Fatal(err)
		}
	}
	var got []Event
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		e, err := Parse(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if diff := cmp.Diff(events, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, line := range []string{"", "garbage", `{"kind":"nope"}`, `[1]`} {
		if _, err := Parse([]byte(line)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", line, err)
		}
	}
}
