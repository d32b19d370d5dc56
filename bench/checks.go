package main

import (
	"fmt"
	"strings"
)

// The targets of issue #6.
const (
	peerTarget    = 1.5  // bqread Arrow → Parquet, 4 streams, over the peer
	limitTarget   = 0.8  // bqread Arrow → arrow over the receive limit
	durableTarget = 0.9  // bqread Arrow → arrow over the durable floor (issue #17; reported, not checked)
	linearTarget  = 0.9  // shaped throughput at S streams over S × the 1-stream throughput
	avroTarget    = 3.0  // Arrow → Parquet over Avro → Parquet, at most
	memoryTarget  = 1.10 // worker peak RSS on the scale× table over the 1× table, at most
	peerStreams   = 4
	targetPeer    = "Arrow→Parquet, 4 streams, ≥ 1.5× peer"
	targetLimit   = "Arrow→arrow ≥ 0.8× limit"
	targetLinear  = "shaped throughput ≥ 0.9× linear until CPU saturation"
	targetAvro    = "Avro→Parquet within 3× of Arrow→Parquet"
	targetMemory  = "worker peak RSS, scale× table within 10% of 1×"
	skipNoResults = "not measured in this run"
)

func status(ok bool) string {
	if ok {
		return statusPass
	}
	return statusFail
}

// peerCheck compares bqread Arrow → Parquet with 4 streams to the peer with 4 streams, and says
// how it compares to the peer's fastest run too.
func peerCheck(rs []result) check {
	b := find(rs, phaseBase, clientBqread, "arrow", "parquet", peerStreams)
	p := find(rs, phaseBase, clientPeer, "arrow", "parquet", peerStreams)
	if b == nil || p == nil {
		return check{Target: targetPeer, Status: statusSkip, Detail: skipNoResults + " (needs 4 in --streams-list, arrow wire, parquet)"}
	}
	v := b.RowsPerSec / p.RowsPerSec
	detail := fmt.Sprintf("%s / %s rows/s = %.2f×", human(b.RowsPerSec), human(p.RowsPerSec), v)
	if best := fastestOf(rs, phaseBase, clientPeer); best != nil && best != p {
		detail += fmt.Sprintf("; %.2f× the peer's fastest run (%d streams)", b.RowsPerSec/best.RowsPerSec, best.Streams)
	}
	return check{Target: targetPeer, Status: status(v >= peerTarget), Detail: detail}
}

func fastestOf(rs []result, phase, client string) *result {
	var best *result
	for i := range rs {
		if r := &rs[i]; r.Phase == phase && r.Client == client && (best == nil || r.RowsPerSec > best.RowsPerSec) {
			best = r
		}
	}
	return best
}

// limitCheck compares bqread Arrow → arrow to the limit at every stream count, and reports the
// same ratio with --stream-bandwidth and the write limit's, which are not checked.
func limitCheck(rs []result, streams []int) check {
	ok := true
	checked := vsLimit(rs, phaseBase, clientBqread, "arrow", streams, func(v float64) { ok = ok && v >= limitTarget })
	if len(checked) == 0 {
		return check{Target: targetLimit, Status: statusSkip, Detail: skipNoResults + " (needs arrow wire and arrow output)"}
	}
	detail := strings.Join(checked, ", ")
	if shaped := vsLimit(rs, phaseShaped, clientBqread, "arrow", streams, nil); len(shaped) > 0 {
		detail += "; with --stream-bandwidth (not checked): " + strings.Join(shaped, ", ")
	}
	if written := vsLimit(rs, phaseBase, clientWrite, "", streams, nil); len(written) > 0 {
		detail += "; limit+write (not checked): " + strings.Join(written, ", ")
	}
	if durable := vsLimit(rs, phaseBase, clientDurable, "", streams, nil); len(durable) > 0 {
		detail += "; limit+write+fsync (not checked): " + strings.Join(durable, ", ")
	}
	if floor := vsDurable(rs, streams); len(floor) > 0 {
		detail += fmt.Sprintf("; Arrow→arrow over limit+write+fsync (issue 17 wants ≥ %.1f×, not checked): %s", durableTarget, strings.Join(floor, ", "))
	}
	return check{Target: targetLimit, Status: status(ok), Detail: detail}
}

// vsLimit lists "S streams R×" for the Arrow-wire results of client with output format output, at
// each stream count measured, passing each ratio to the limit to seen if it is not nil.
func vsLimit(rs []result, phase, client, output string, streams []int, seen func(float64)) []string {
	var parts []string
	for _, s := range streams {
		r := find(rs, phase, client, "arrow", output, s)
		if r == nil || r.VsLimit == 0 {
			continue
		}
		if seen != nil {
			seen(r.VsLimit)
		}
		parts = append(parts, fmt.Sprintf("%d streams %.2f×", s, r.VsLimit))
	}
	return parts
}

// vsDurable lists "S streams R×", bqread Arrow → arrow over the durable floor (limit+write+fsync),
// at each stream count where both were measured.
func vsDurable(rs []result, streams []int) []string {
	var parts []string
	for _, s := range streams {
		b := find(rs, phaseBase, clientBqread, "arrow", "arrow", s)
		d := find(rs, phaseBase, clientDurable, "arrow", "", s)
		if b == nil || d == nil || d.RowsPerSec == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d streams %.2f×", s, b.RowsPerSec/d.RowsPerSec))
	}
	return parts
}

// scalingCheck compares shaped Arrow → Parquet throughput at S streams with S times the 1-stream
// throughput, for each S until the machine's CPU is saturated: busy for at least saturation of
// all cores during the run, whoever used it. A saturated run below the target is excused; one that
// meets it counts; no run after it is checked.
func scalingCheck(rs []result, streams []int, saturation float64) check {
	one := find(rs, phaseShaped, clientBqread, "arrow", "parquet", 1)
	if one == nil {
		return check{Target: targetLinear, Status: statusSkip, Detail: skipNoResults + " (needs --stream-bandwidth and 1 in --streams-list)"}
	}
	var parts []string
	ok, checked := true, 0
	for _, s := range streams {
		r := find(rs, phaseShaped, clientBqread, "arrow", "parquet", s)
		if s == 1 || r == nil {
			continue
		}
		eff := r.MBPerSec / (float64(s) * one.MBPerSec)
		saturated := r.MachineCPU >= saturation
		if saturated && eff < linearTarget {
			parts = append(parts, fmt.Sprintf("%d streams %.2f (CPU %.0f%%: saturated, not checked)", s, eff, 100*r.MachineCPU))
			break
		}
		checked++
		ok = ok && eff >= linearTarget
		parts = append(parts, fmt.Sprintf("%d streams %.2f (CPU %.0f%%)", s, eff, 100*r.MachineCPU))
		if saturated {
			break
		}
	}
	detail := fmt.Sprintf("1 stream %.1f MB/s; S streams over S× that: %s", one.MBPerSec, strings.Join(parts, ", "))
	if checked == 0 {
		return check{Target: targetLinear, Status: statusSkip, Detail: detail + "; no run above 1 stream checked (CPU saturated)"}
	}
	return check{Target: targetLinear, Status: status(ok), Detail: detail}
}

// avroCheck compares Arrow → Parquet with Avro → Parquet at every stream count.
func avroCheck(rs []result, streams []int) check {
	var parts []string
	ok, seen := true, false
	for _, s := range streams {
		a := find(rs, phaseBase, clientBqread, "arrow", "parquet", s)
		v := find(rs, phaseBase, clientBqread, "avro", "parquet", s)
		if a == nil || v == nil {
			continue
		}
		seen = true
		slower := a.RowsPerSec / v.RowsPerSec
		ok = ok && slower <= avroTarget
		parts = append(parts, fmt.Sprintf("%d streams %.2f× slower", s, slower))
	}
	if !seen {
		return check{Target: targetAvro, Status: statusSkip, Detail: skipNoResults + " (needs both wires and parquet)"}
	}
	return check{Target: targetAvro, Status: status(ok), Detail: strings.Join(parts, ", ")}
}

// memoryCheck compares the worker peak RSS of the memory phase's two exports.
func memoryCheck(rs []result, scale int) check {
	var runs []result
	for _, r := range rs {
		if r.Phase == phaseMemory {
			runs = append(runs, r)
		}
	}
	if len(runs) != 2 {
		return check{Target: targetMemory, Status: statusSkip, Detail: skipNoResults + " (needs --scale 2 or more)"}
	}
	small, big := runs[0], runs[1]
	if small.workerMax() == 0 || big.workerMax() == 0 {
		return check{Target: targetMemory, Status: statusSkip, Detail: "a worker ended before its memory was sampled"}
	}
	v := float64(big.workerMax()) / float64(small.workerMax())
	detail := fmt.Sprintf("%d× table %s vs %s = %.2f× (coordinator %s vs %s)", scale, mib(big.workerMax()),
		mib(small.workerMax()), v, mib(big.RSS), mib(small.RSS))
	return check{Target: targetMemory, Status: status(v <= memoryTarget), Detail: detail}
}
