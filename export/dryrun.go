package export

import (
	"context"
	"time"

	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// DryRun checks every option as Plan does and says what the export would read, without reading or
// writing anything (no work dir, no output; only the Summary, if one is named): for a Table, a
// read session is created, which reads no row, and the summary has its streams and the
// service's estimates of the rows and bytes scanned; for a Query, a dry-run job says the bytes it
// would process (Summary.Query.BytesProcessed). Out may be left empty.
func DryRun(ctx context.Context, opts Options) (*Summary, error) {
	start := time.Now()
	p, err := opts.checkAs(ctx, start, true)
	if err != nil {
		return nil, err
	}
	e := &Export{p: p, start: start}
	sum, err := p.estimate(ctx)
	if sum != nil {
		sum.DryRun = true
	}
	return p.report(sum, err, e)
}

// estimate returns the summary of a dry run.
func (p *plan) estimate(ctx context.Context) (*Summary, error) {
	sum := &Summary{Table: p.opts.Table, Format: string(p.opts.Format), Compression: p.outOpts.Compression,
		OutputFiles: []string{}, PerStream: []shard.StreamResult{}}
	if p.opts.Query != "" {
		bytes, err := p.dryRunQuery(ctx)
		if err != nil {
			return nil, err
		}
		sum.Query = &session.QueryJob{SQL: p.opts.Query, DestinationTable: p.opts.DestinationTable, BytesProcessed: bytes}
		return sum, nil
	}
	m, err := p.openSession(ctx, session.Output{Format: string(p.opts.Format)})
	if err != nil {
		return nil, err
	}
	if err := p.checkLocation(m.Session); err != nil {
		return nil, err
	}
	sum.Table, sum.Session, sum.Streams, sum.Schema = m.Table, m.Session, len(m.Streams), m.Schema
	sum.EstimatedRows, sum.EstimatedBytesScanned, sum.SnapshotTime = m.EstimatedRows, m.EstimatedBytes, m.SnapshotTime
	return sum, nil
}
