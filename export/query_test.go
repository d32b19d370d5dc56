package export

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestOrderedAtTopLevel checks that only an ORDER BY ordering the result's rows counts: not one in
// a subquery, a function call, a window, a string, a quoted identifier or a comment.
func TestOrderedAtTopLevel(t *testing.T) {
	tests := []struct {
		sql  string
		want bool
	}{
		{"SELECT a FROM t ORDER BY a", true},
		{"select a from t\norder\n  by a desc limit 3", true},
		{"SELECT a FROM t ORDER/* c */BY a", true},
		{"WITH s AS (SELECT a FROM t ORDER BY a) SELECT a FROM s ORDER BY a", true},
		{"SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a", true},
		{"SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 5)", false},
		{"SELECT ARRAY_AGG(a ORDER BY b) FROM t", false},
		{"SELECT ROW_NUMBER() OVER (ORDER BY a) FROM t", false},
		{"SELECT ARRAY(SELECT x FROM UNNEST(v) AS x ORDER BY x)[OFFSET(0)] FROM t", false},
		{"SELECT 'ORDER BY a' FROM t", false},
		{`SELECT "it's ORDER BY" FROM t`, false},
		{`SELECT '''a ' ORDER BY b''' FROM t`, false},
		{`SELECT r'\' ORDER BY x' FROM t`, false},
		{`SELECT b"ORDER BY" FROM t`, false},
		{"SELECT `ORDER BY` FROM t", false},
		{"SELECT a FROM t -- ORDER BY a", false},
		{"SELECT a FROM t # ORDER BY a", false},
		{"SELECT a FROM t /* ORDER BY a */", false},
		{"SELECT a AS order_by FROM t", false},
		{"SELECT a FROM t WHERE a = 'x)' ORDER BY a", true},
		{"SELECT border, by_ FROM t", false},
	}
	for _, tt := range tests {
		if got := orderedAtTopLevel(tt.sql); got != tt.want {
			t.Errorf("orderedAtTopLevel(%q) = %v, want %v", tt.sql, got, tt.want)
		}
	}
}

// TestCheckQuery checks the options of a query export: what is refused with a query, before
// anything runs, and that an ordered query asks for one stream.
func TestCheckQuery(t *testing.T) {
	base := Options{Query: "SELECT a FROM `p.d.t`", Project: "proj", Format: "ndjson", Streams: 8,
		Endpoint: "127.0.0.1:1", RESTEndpoint: "http://127.0.0.1:2"}
	refused := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"table", func(o *Options) { o.Table = "proj.d.t" }, "Options.Table"},
		{"columns", func(o *Options) { o.Columns = []string{"a"} }, "Options.Columns"},
		{"where", func(o *Options) { o.Where = "a > 1" }, "Options.Where"},
		{"snapshot", func(o *Options) { o.SnapshotTime = time.Now().Add(-time.Hour) }, "Options.SnapshotTime"},
		{"sample", func(o *Options) { o.Sample = 10 }, "Options.Sample"},
		{"no project", func(o *Options) { o.Project = "" }, "Options.Project"},
		{"bad destination", func(o *Options) { o.DestinationTable = "not a table" }, "destination table"},
		{"negative bytes", func(o *Options) { o.MaximumBytesBilled = -1 }, "Options.MaximumBytesBilled"},
		{"endpoint without REST", func(o *Options) { o.RESTEndpoint = "" }, "Options.RESTEndpoint"},
		{"REST not a URL", func(o *Options) { o.RESTEndpoint = "127.0.0.1:2" }, "http://HOST:PORT"},
		{"REST without port", func(o *Options) { o.RESTEndpoint = "http://localhost" }, "http://HOST:PORT"},
		{"REST plain http elsewhere", func(o *Options) { o.RESTEndpoint = "http://192.0.2.1:9050" }, "Options.Plaintext"},
	}
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.edit(&o)
			_, err := o.check(t.Context(), time.Now())
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error naming %s", err, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		sql     string
		streams int
	}{{base.Query, 8}, {base.Query + " ORDER BY a", 1}} {
		o := base
		o.Query = tt.sql
		p, err := o.check(t.Context(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if p.req.MaxStreams != tt.streams || p.ordered != (tt.streams == 1) {
			t.Errorf("%q: %d streams (ordered %v), want %d", tt.sql, p.req.MaxStreams, p.ordered, tt.streams)
		}
	}
	o := base
	o.RESTEndpoint, o.Plaintext = "http://192.0.2.1:9050", true
	if _, err := o.check(t.Context(), time.Now()); err != nil {
		t.Errorf("plain http to another machine with Plaintext: %v", err)
	}
}

// TestJobErrorUsage checks which of BigQuery's reasons are bad input (exit 2) and which are not.
func TestJobErrorUsage(t *testing.T) {
	for reason, usage := range map[string]bool{"invalidQuery": true, "notFound": true, "bytesBilledLimitExceeded": true,
		"invalid": true, "duplicate": true, "accessDenied": false, "quotaExceeded": false, "backendError": false} {
		err := error(&JobError{Job: "p:US.j", Reason: reason, Message: "m"})
		if errors.Is(err, ErrUsage) != usage {
			t.Errorf("%s: usage %v, want %v", reason, !usage, usage)
		}
		if got, want := err.Error(), "query job p:US.j failed: "+reason+": m"; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
	}
}
