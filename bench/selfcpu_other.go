//go:build !unix

package main

import "time"

// selfCPU returns 0: outside Unix the bench does not measure its own CPU time (nor, without
// /proc, the machine's or peak RSS); it builds, and its figures are wall times.
func selfCPU() time.Duration { return 0 }
