// Package examples holds the deployment examples of bqread's distributed commands (plan, worker,
// merge): Kubernetes manifests, Cloud Run job commands and a Dockerfile. It has no code; its test
// checks the examples against the bqread command and runs their commands against the emulator.
package examples
