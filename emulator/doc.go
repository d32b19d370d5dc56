// Package emulator is a local BigQuery Storage Read server: it serves the built-in sample tables and
// tables from a data directory over the same gRPC API as the real service (CreateReadSession,
// ReadRows, SplitReadStream), plus the few BigQuery REST calls that the official client makes before
// it reads. It owns its table sources (NDJSON files, synthetic tables) and never imports the client
// side of bqread (session, shard).
package emulator
