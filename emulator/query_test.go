package emulator

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	gcmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// person is a row of the people table the query tests run over. Pointers are NULLable columns.
type person struct {
	ID    int64
	Name  *string
	Age   *int64
	City  *string
	Addr  *address
	Tags  []string
	Born  civil.Date
	Score float64
}

type address struct {
	Street string
	Zip    *int64
}

const peopleSchema = `[
 {"name": "id", "type": "INT64", "mode": "REQUIRED"},
 {"name": "name", "type": "STRING"},
 {"name": "age", "type": "INT64"},
 {"name": "city", "type": "STRING"},
 {"name": "addr", "type": "RECORD", "fields": [
   {"name": "street", "type": "STRING", "mode": "REQUIRED"}, {"name": "zip", "type": "INT64"}]},
 {"name": "tags", "type": "STRING", "mode": "REPEATED"},
 {"name": "born", "type": "DATE", "mode": "REQUIRED"},
 {"name": "score", "type": "FLOAT64", "mode": "REQUIRED"}]`

func ptr[T any](v T) *T { return &v }

// people makes n rows with NULLs in every NULLable column, repeated ages and cities.
func people(n int) []person {
	cities := []string{"Paris", "Lyon", "Oslo"}
	out := make([]person, n)
	for i := range out {
		p := person{ID: int64(i + 1), Born: civil.Date{Year: 1950 + i%50, Month: time.Month(1 + i%12), Day: 1 + i%28}, Score: float64(i%13) / 4}
		if i%9 != 4 {
			p.Name = ptr(fmt.Sprintf("n%03d", (i*37)%n))
		}
		if i%7 != 3 {
			p.Age = ptr(int64(i * 31 % 60))
		}
		if i%5 != 1 {
			p.City = ptr(cities[i%3])
		}
		if i%6 != 2 {
			p.Addr = &address{Street: fmt.Sprintf("s%d", i)}
			if i%4 != 0 {
				p.Addr.Zip = ptr(int64(1000 + i))
			}
		}
		for k := range i % 3 {
			p.Tags = append(p.Tags, fmt.Sprintf("t%d", k))
		}
		out[i] = p
	}
	return out
}

// ndjson writes the rows in BigQuery's JSON load form.
func peopleNDJSON(t *testing.T, rows []person) string {
	var b strings.Builder
	for _, p := range rows {
		m := map[string]any{"id": p.ID, "name": p.Name, "age": p.Age, "city": p.City, "tags": p.Tags,
			"born": p.Born.String(), "score": p.Score}
		if p.Addr != nil {
			m["addr"] = map[string]any{"street": p.Addr.Street, "zip": p.Addr.Zip}
		}
		line, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// value is what the official client returns for a NULLable column.
func value[T any](p *T) bigquery.Value {
	if p == nil {
		return nil
	}
	return *p
}

func (p person) addrValue() bigquery.Value {
	if p.Addr == nil {
		return nil
	}
	return []bigquery.Value{p.Addr.Street, value(p.Addr.Zip)}
}

func (p person) tagsValue() bigquery.Value {
	out := []bigquery.Value{}
	for _, t := range p.Tags {
		out = append(out, t)
	}
	return out
}

func (p person) all() []bigquery.Value {
	return []bigquery.Value{p.ID, value(p.Name), value(p.Age), value(p.City), p.addrValue(), p.tagsValue(), p.Born, p.Score}
}

// queryCase is a query and the rows it must give, computed here from the rows in Go.
type queryCase struct {
	name, sql string
	want      func([]person) [][]bigquery.Value
	ordered   bool
}

func pickRows(rows []person, keep func(person) bool, cols func(person) []bigquery.Value) [][]bigquery.Value {
	out := [][]bigquery.Value{}
	for _, p := range rows {
		if keep(p) {
			out = append(out, cols(p))
		}
	}
	return out
}

// sortedBy orders copies of rows by key, NULLs first, then by id for ties.
func sortedBy(rows []person, key func(person) *int64, desc bool) []person {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b person) int {
		ka, kb := key(a), key(b)
		var c int
		switch {
		case ka == nil && kb == nil:
		case ka == nil:
			c = -1
		case kb == nil:
			c = 1
		default:
			c = cmp.Compare(*ka, *kb)
		}
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		return c
	})
	return out
}

var all = func(person) bool { return true }

var queryCases = []queryCase{
	{name: "projection", sql: "SELECT name, id FROM `my-project.ds.people`",
		want: func(r []person) [][]bigquery.Value {
			return pickRows(r, all, func(p person) []bigquery.Value { return []bigquery.Value{value(p.Name), p.ID} })
		}},
	{name: "star", sql: "SELECT * FROM `my-project.ds.people`",
		want: func(r []person) [][]bigquery.Value { return pickRows(r, all, person.all) }},
	{name: "where", sql: "SELECT id, age FROM `my-project.ds.people` WHERE age > 30 AND city = 'Paris' OR name IS NULL",
		want: func(r []person) [][]bigquery.Value {
			return pickRows(r, func(p person) bool {
				return p.Age != nil && *p.Age > 30 && p.City != nil && *p.City == "Paris" || p.Name == nil
			}, func(p person) []bigquery.Value { return []bigquery.Value{p.ID, value(p.Age)} })
		}},
	{name: "star except", sql: "select * except (addr, TAGS) from `my-project`.ds.people where city in ('Oslo', 'Lyon')",
		want: func(r []person) [][]bigquery.Value {
			return pickRows(r, func(p person) bool { return p.City != nil && *p.City != "Paris" },
				func(p person) []bigquery.Value { v := p.all(); return append(v[:4:4], v[6:]...) })
		}},
	{name: "aliases", sql: "SELECT p.name AS who, p.id n FROM ds.people AS p WHERE p.age IS NULL",
		want: func(r []person) [][]bigquery.Value {
			return pickRows(r, func(p person) bool { return p.Age == nil },
				func(p person) []bigquery.Value { return []bigquery.Value{value(p.Name), p.ID} })
		}},
	{name: "struct fields", sql: "SELECT id, addr.zip, people.addr.street AS s FROM ds.people WHERE id <= 30",
		want: func(r []person) [][]bigquery.Value {
			return pickRows(r, func(p person) bool { return p.ID <= 30 }, func(p person) []bigquery.Value {
				if p.Addr == nil {
					return []bigquery.Value{p.ID, nil, nil}
				}
				return []bigquery.Value{p.ID, value(p.Addr.Zip), p.Addr.Street}
			})
		}},
	{name: "order by desc, nulls last", sql: "SELECT id, age FROM `my-project.ds.people` ORDER BY age DESC, id",
		ordered: true,
		want: func(r []person) [][]bigquery.Value {
			return pickRows(sortedBy(r, func(p person) *int64 { return p.Age }, true), all,
				func(p person) []bigquery.Value { return []bigquery.Value{p.ID, value(p.Age)} })
		}},
	{name: "order by struct field, nulls first, limit", ordered: true,
		sql: "SELECT id, addr.zip AS z FROM ds.people WHERE id > 10 ORDER BY z, 1 LIMIT 20",
		want: func(r []person) [][]bigquery.Value {
			zip := func(p person) *int64 {
				if p.Addr == nil {
					return nil
				}
				return p.Addr.Zip
			}
			var above []person
			for _, p := range r {
				if p.ID > 10 {
					above = append(above, p)
				}
			}
			return pickRows(sortedBy(above, zip, false)[:20], all,
				func(p person) []bigquery.Value { return []bigquery.Value{p.ID, value(zip(p))} })
		}},
	{name: "limit offset", ordered: true, sql: "SELECT id FROM ds.people ORDER BY id DESC LIMIT 5 OFFSET 3",
		want: func(r []person) [][]bigquery.Value {
			n := int64(len(r))
			return [][]bigquery.Value{{n - 3}, {n - 4}, {n - 5}, {n - 6}, {n - 7}}
		}},
	{name: "nothing matches", sql: "SELECT id, name FROM ds.people WHERE id < 0",
		want: func([]person) [][]bigquery.Value { return [][]bigquery.Value{} }},
}

// queryEnv is an emulator with the people table and two official clients: one reads results with
// the Storage Read API, the other through jobs.getQueryResults and tabledata.list.
type queryEnv struct {
	*testEnv
	rows           []person
	storage, plain *bigquery.Client
}

func newQueryEnv(t *testing.T, o Options, n int) *queryEnv {
	env := &queryEnv{testEnv: startEnv(t, o), rows: people(n)}
	writeTable(t, env.dir, tableRef{"my-project", "ds", "people"}, peopleSchema, "data.ndjson", peopleNDJSON(t, env.rows))
	ctx := t.Context()
	env.storage, env.plain = restClient(t, env.testEnv), restClient(t, env.testEnv)
	if err := env.storage.EnableStorageReadClient(ctx, option.WithEndpoint(env.inst.GRPCAddr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))); err != nil {
		t.Fatal(err)
	}
	return env
}

var jobSeq atomic.Int64

// readAll reads a row iterator to the end.
func readAll(t *testing.T, it *bigquery.RowIterator) [][]bigquery.Value {
	t.Helper()
	out := [][]bigquery.Value{}
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d rows: %v", len(out), err)
		}
		out = append(out, row)
	}
}

func checkRows(t *testing.T, got, want [][]bigquery.Value, ordered bool) {
	t.Helper()
	if !ordered {
		key := func(r []bigquery.Value) string { return fmt.Sprint(r) }
		for _, rows := range [][][]bigquery.Value{got, want} {
			slices.SortFunc(rows, func(a, b []bigquery.Value) int { return strings.Compare(key(a), key(b)) })
		}
	}
	if diff := gcmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestOfficialClientQueries runs each query with the official Go client three ways: with the
// Storage Read API (Query.Read through jobs.insert, then a read session on the result table, one
// stream when the query has ORDER BY), with jobs.query (the client's fast path), and through
// jobs.getQueryResults pages of 7 rows; each gives the rows computed in Go from the table's rows.
func TestOfficialClientQueries(t *testing.T) {
	env := newQueryEnv(t, Options{JobRunTime: 30 * time.Millisecond}, 120)
	for _, c := range queryCases {
		t.Run(c.name, func(t *testing.T) {
			want := c.want(env.rows)
			ctx := t.Context()
			t.Run("storage read", func(t *testing.T) {
				q := env.storage.Query(c.sql)
				q.JobID = fmt.Sprintf("storage_%d", jobSeq.Add(1))
				it, err := q.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got := readAll(t, it)
				if !it.IsAccelerated() {
					t.Error("the client did not use the Storage Read API")
				}
				checkRows(t, got, want, c.ordered)
			})
			t.Run("jobs.query", func(t *testing.T) {
				it, err := env.plain.Query(c.sql).Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				checkRows(t, readAll(t, it), want, c.ordered)
			})
			t.Run("getQueryResults pages", func(t *testing.T) {
				q := env.plain.Query(c.sql)
				q.JobID = fmt.Sprintf("pages_%d", jobSeq.Add(1))
				it, err := q.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				it.PageInfo().MaxSize = 7
				checkRows(t, readAll(t, it), want, c.ordered)
				if it.TotalRows != uint64(len(want)) {
					t.Errorf("TotalRows = %d, want %d", it.TotalRows, len(want))
				}
			})
		})
	}
}
