package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	bq "google.golang.org/api/bigquery/v2"

	"github.com/bqread/bqread/emulator/sql"
)

// The REST methods around a query: jobs.insert, jobs.get, jobs.getQueryResults, jobs.query,
// jobs.cancel, and tabledata.list, the official clients' way to read rows when the Storage Read
// API is not used.

const (
	// defaultWait is how long jobs.query and jobs.getQueryResults wait for a job by default, as
	// BigQuery does (timeoutMs).
	defaultWait = 10 * time.Second
	// pageBytes is about how much a page of rows holds when the request sets no maxResults.
	pageBytes = 10 << 20
)

func jobRoutes(mux *http.ServeMux, c *catalog, jobs *jobStore) {
	const p = "/bigquery/v2/projects/{project}"
	mux.HandleFunc("POST "+p+"/jobs", jobs.insert)
	mux.HandleFunc("GET "+p+"/jobs/{job}", func(w http.ResponseWriter, r *http.Request) {
		if j := jobs.lookup(w, r); j != nil {
			writeJSON(w, jobs.resource(j))
		}
	})
	mux.HandleFunc("POST "+p+"/jobs/{job}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if j := jobs.lookup(w, r); j != nil {
			res, _ := jobs.cancel(j.ref.ProjectId, j.ref.JobId)
			writeJSON(w, &bq.JobCancelResponse{Kind: "bigquery#jobCancelResponse", Job: res})
		}
	})
	mux.HandleFunc("GET "+p+"/queries/{job}", jobs.getQueryResults)
	mux.HandleFunc("POST "+p+"/queries", jobs.query)
	mux.HandleFunc("GET "+p+"/datasets/{dataset}/tables/{table}/data", func(w http.ResponseWriter, r *http.Request) {
		tabledataList(c, w, r)
	})
}

func writeJobError(w http.ResponseWriter, e *jobError) { writeJSONError(w, e.code, e.reason, e.msg) }

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 10<<20)).Decode(v); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid", "Invalid JSON payload received: "+err.Error())
		return false
	}
	return true
}

// lookup finds the job of the request's path, or answers notFound.
func (s *jobStore) lookup(w http.ResponseWriter, r *http.Request) *job {
	project, id := r.PathValue("project"), r.PathValue("job")
	j := s.get(project, id)
	if j == nil {
		writeJSONError(w, http.StatusNotFound, "notFound", "Not found: Job "+project+":"+restLocation+"."+id)
	}
	return j
}

func (s *jobStore) insert(w http.ResponseWriter, r *http.Request) {
	var body bq.Job
	if !decodeBody(w, r, &body) {
		return
	}
	cfg := body.Configuration
	if cfg == nil || cfg.Query == nil {
		writeJSONError(w, http.StatusBadRequest, "invalid", sql.UnsupportedPrefix+"jobs other than query jobs")
		return
	}
	req := queryRequest{project: r.PathValue("project"), jobID: newJobID(), query: cfg.Query, dryRun: cfg.DryRun, labels: cfg.Labels}
	if ref := body.JobReference; ref != nil {
		req.location = ref.Location
		if ref.JobId != "" {
			req.jobID = ref.JobId
		}
	}
	j, jerr := s.plan(r.Context(), req)
	if req.dryRun {
		if jerr != nil {
			writeJobError(w, jerr)
		} else {
			writeJSON(w, dryRunJob(j))
		}
		return
	}
	if _, err := s.register(r.Context(), j, jerr); err != nil {
		writeJobError(w, err)
		return
	}
	writeJSON(w, s.resource(j))
}

func (s *jobStore) query(w http.ResponseWriter, r *http.Request) {
	var body bq.QueryRequest
	if !decodeBody(w, r, &body) {
		return
	}
	q := &bq.JobConfigurationQuery{Query: body.Query, UseLegacySql: body.UseLegacySql, DefaultDataset: body.DefaultDataset,
		MaximumBytesBilled: body.MaximumBytesBilled}
	req := queryRequest{project: r.PathValue("project"), jobID: newJobID(), location: body.Location, query: q,
		dryRun: body.DryRun, labels: body.Labels}
	j, jerr := s.plan(r.Context(), req)
	if req.dryRun {
		if jerr != nil {
			writeJobError(w, jerr)
			return
		}
		writeJSON(w, &bq.QueryResponse{Kind: "bigquery#queryResponse", JobComplete: true,
			JobReference: &bq.JobReference{ProjectId: req.project, Location: restLocation},
			Schema:       dryRunJob(j).Statistics.Query.Schema, TotalBytesProcessed: j.bytes,
			ForceSendFields: []string{"TotalBytesProcessed"}})
		return
	}
	jerr, err := s.register(r.Context(), j, jerr)
	if err != nil {
		writeJobError(w, err)
		return
	}
	if jerr != nil {
		writeJobError(w, jerr)
		return
	}
	ref := j.ref
	resp := &bq.QueryResponse{Kind: "bigquery#queryResponse", JobReference: &ref}
	if !s.wait(r.Context(), j, waitTime(body.TimeoutMs)) {
		resp.ForceSendFields = []string{"JobComplete"}
		writeJSON(w, resp)
		return
	}
	if e := s.jobErr(j); e != nil {
		writeJobError(w, e)
		return
	}
	params := url.Values{}
	if body.MaxResults > 0 {
		params.Set("maxResults", strconv.FormatInt(body.MaxResults, 10))
	}
	pg, err := readPage(j.result, params, body.FormatOptions != nil && body.FormatOptions.UseInt64Timestamp)
	if err != nil {
		writeJobError(w, err)
		return
	}
	resp.JobComplete, resp.Schema, resp.TotalRows, resp.Rows, resp.PageToken = true, pg.schema, uint64(pg.total), pg.rows, pg.token
	resp.TotalBytesProcessed = j.bytes
	resp.ForceSendFields = []string{"JobComplete", "TotalRows", "TotalBytesProcessed", "CacheHit"}
	writeJSON(w, resp)
}

func waitTime(timeoutMs int64) time.Duration {
	if timeoutMs <= 0 {
		return defaultWait
	}
	return min(time.Duration(timeoutMs)*time.Millisecond, defaultWait)
}

func (s *jobStore) jobErr(j *job) *jobError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return j.err
}

func (s *jobStore) getQueryResults(w http.ResponseWriter, r *http.Request) {
	j := s.lookup(w, r)
	if j == nil {
		return
	}
	params := r.URL.Query()
	timeout := int64(0)
	if t := params.Get("timeoutMs"); t != "" {
		timeout, _ = strconv.ParseInt(t, 10, 64)
	}
	ref := j.ref
	resp := &bq.GetQueryResultsResponse{Kind: "bigquery#getQueryResultsResponse", JobReference: &ref}
	if !s.wait(r.Context(), j, waitTime(timeout)) {
		resp.ForceSendFields = []string{"JobComplete"}
		writeJSON(w, resp)
		return
	}
	if e := s.jobErr(j); e != nil {
		writeJobError(w, e)
		return
	}
	pg, err := readPage(j.result, params, params.Get("formatOptions.useInt64Timestamp") == "true")
	if err != nil {
		writeJobError(w, err)
		return
	}
	resp.JobComplete, resp.Schema, resp.TotalRows, resp.Rows, resp.PageToken = true, pg.schema, uint64(pg.total), pg.rows, pg.token
	resp.TotalBytesProcessed = j.bytes
	resp.ForceSendFields = []string{"JobComplete", "TotalRows", "TotalBytesProcessed", "CacheHit"}
	writeJSON(w, resp)
}

func tabledataList(c *catalog, w http.ResponseWriter, r *http.Request) {
	ref := tableRef{Project: r.PathValue("project"), Dataset: r.PathValue("dataset"), Table: r.PathValue("table")}
	v, err := c.resolve(r.Context(), ref, timeZero)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	params := r.URL.Query()
	switch {
	case !v.readable():
		writeJSONError(w, http.StatusBadRequest, "invalid", "Cannot list a table of type "+v.kind+".")
		return
	case params.Has("selectedFields"):
		writeJSONError(w, http.StatusBadRequest, "invalid", sql.UnsupportedPrefix+"tabledata.list with selectedFields")
		return
	}
	pg, jerr := readPage(v, params, params.Get("formatOptions.useInt64Timestamp") == "true")
	if jerr != nil {
		writeJobError(w, jerr)
		return
	}
	writeJSON(w, &bq.TableDataList{Kind: "bigquery#tableDataList", TotalRows: pg.total, Rows: pg.rows, PageToken: pg.token,
		ForceSendFields: []string{"TotalRows"}})
}

// page is one page of a table's rows in the tabledata form.
type page struct {
	schema *bq.TableSchema
	rows   []*bq.TableRow
	total  int64
	token  string // the next page's, empty at the end
}

// readPage reads the page that startIndex or pageToken (the index of its first row) and
// maxResults ask for; without maxResults, a page holds about pageBytes.
func readPage(v *tableVersion, params url.Values, int64Timestamps bool) (page, *jobError) {
	total := v.rows.numRows()
	pg := page{schema: &bq.TableSchema{Fields: restFields(v.schema)}, total: total}
	bad := func(what string) (page, *jobError) {
		return page{}, &jobError{code: http.StatusBadRequest, reason: "invalid", msg: "Invalid " + what}
	}
	start := int64(0)
	for _, name := range []string{"startIndex", "pageToken"} {
		if s := params.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return bad(name + " " + strconv.Quote(s))
			}
			start = n
		}
	}
	size := max(1, pageBytes/max(1, estimateRowBytes(v.schema)))
	if s := params.Get("maxResults"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return bad("maxResults " + strconv.Quote(s))
		}
		if n == 0 {
			return pg, nil
		}
		size = n
	}
	start = min(start, total)
	end := min(total, start+size)
	rec, err := v.rows.read(start, end, memory.DefaultAllocator)
	if err != nil {
		return page{}, &jobError{code: http.StatusInternalServerError, reason: "backendError", msg: err.Error()}
	}
	defer rec.Release()
	if pg.rows, err = restRows(v.schema, rec, int64Timestamps); err != nil {
		return page{}, &jobError{code: http.StatusInternalServerError, reason: "backendError", msg: err.Error()}
	}
	if end < total {
		pg.token = strconv.FormatInt(end, 10)
	}
	return pg, nil
}
