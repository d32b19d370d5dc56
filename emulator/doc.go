// Package emulator is a local BigQuery Storage Read server: it serves the built-in sample tables and
// tables from a data directory over the same gRPC API as the real service (CreateReadSession,
// ReadRows, SplitReadStream), plus the BigQuery REST calls that the official clients make around a
// read: tables and datasets, and query jobs, which run a GoogleSQL subset (package emulator/sql) and
// leave their results as tables the Storage Read API serves. It owns its table sources (NDJSON files,
// synthetic tables) and never imports the client side of bqread (session, shard).
package emulator
