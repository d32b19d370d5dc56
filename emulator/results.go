package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Query jobs write their results into tables held in memory: the destination table a job names,
// or a table of the project's anonymous dataset that expires 24 hours after the job, as BigQuery's
// do. The Storage Read API, tables.get and tabledata.list serve them like any other table.

// anonymousTTL is how long an anonymous result table lives.
const anonymousTTL = 24 * time.Hour

// anonymousDataset is the hidden dataset of a project's anonymous result tables: "_" and hex
// digits, as BigQuery names them.
func anonymousDataset(project string) string {
	sum := sha256.Sum256([]byte("bqread-emulator/" + project))
	return "_" + hex.EncodeToString(sum[:20])
}

func isAnonymous(dataset string) bool { return strings.HasPrefix(dataset, "_") }

// result returns a query result table that has not expired; nil if r is not one.
func (c *catalog) result(r tableRef) *tableVersion {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.results[r]
	if v != nil && !v.expires.IsZero() && !c.now().Before(v.expires) {
		delete(c.results, r)
		return nil
	}
	return v
}

// resultDataset reports whether project.dataset is a project's anonymous dataset.
func (c *catalog) resultDataset(r tableRef) bool {
	return r.Dataset == anonymousDataset(r.Project)
}

// putResult registers a query's result table, replacing an earlier one of the same name.
func (c *catalog) putResult(v *tableVersion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results[v.ref] = v
}

// resultTables returns the names of the result tables of project.dataset that have not expired.
func (c *catalog) resultTables(r tableRef) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for ref, v := range c.results {
		if ref.Project == r.Project && ref.Dataset == r.Dataset && (v.expires.IsZero() || c.now().Before(v.expires)) {
			out = append(out, ref.Table)
		}
	}
	return out
}
