// Package bytesize reads the sizes and rates that commands take as flags ("4GiB", "4G", "500KB",
// "25MiB/s") and writes sizes for people, with github.com/dustin/go-humanize. It says nothing
// about which sizes a flag allows: zero, a default for the empty string and limits are the
// caller's.
package bytesize

import (
	"fmt"
	"math"
	"strings"

	"github.com/dustin/go-humanize"
)

// Parse reads a size in bytes: a number, whole or with a fraction, then an optional unit, case
// ignored. B is 1; K, M, G, T, P, E and KB, MB ... EB are powers of 1000; Ki, Mi ... and KiB,
// MiB ... EiB are powers of 1024. So "4G" and "4GB" are 4,000,000,000 and "4GiB" 4,294,967,296.
// A rate in bytes per second is the same followed by "/s" ("25MiB/s"). The result is rounded
// down to whole bytes.
func Parse(s string) (int64, error) {
	num := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	n, err := humanize.ParseBytes(strings.TrimSpace(num))
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("bytesize: %q is not a size (want a number of bytes such as 4GiB, 4G, 500KB or 1048576)", s)
	}
	return int64(n), nil
}

// Format writes n bytes in binary units with two or three significant digits, as "256 MiB" or
// "1.5 GiB"; below 10 bytes, as "7 B". n must not be negative.
func Format(n int64) string { return humanize.IBytes(uint64(n)) }
