package emulator

import (
	"encoding/json"
	"errors"
	"net/http"

	bq "google.golang.org/api/bigquery/v2"

	"github.com/bqread/bqread/schema"
)

// The REST subset: what cloud.google.com/go/bigquery calls before it reads a table through the
// Storage Read API (datasets.get, tables.get). Its base URL is http://HTTPAddr()/bigquery/v2/.

// restLocation is the location datasets and tables report.
const restLocation = "US"

// legacyTypes are the type names tables.get returns (the REST API uses the legacy names).
var legacyTypes = map[schema.Type]string{
	schema.Int64: "INTEGER", schema.Float64: "FLOAT", schema.Bool: "BOOLEAN", schema.Struct: "RECORD",
}

func newRESTHandler(c *catalog, jobs *jobStore) http.Handler {
	mux := http.NewServeMux()
	jobRoutes(mux, c, jobs)
	listRoutes(mux, c)
	mux.HandleFunc("GET /bigquery/v2/projects/{project}/datasets/{dataset}", func(w http.ResponseWriter, r *http.Request) {
		ref := tableRef{Project: r.PathValue("project"), Dataset: r.PathValue("dataset")}
		ok, err := c.datasetExists(ref)
		switch {
		case err != nil:
			writeRESTError(w, err)
		case !ok:
			writeJSONError(w, http.StatusNotFound, "notFound", "Not found: Dataset "+ref.Project+":"+ref.Dataset)
		default:
			writeJSON(w, &bq.Dataset{
				Kind:             "bigquery#dataset",
				Id:               ref.Project + ":" + ref.Dataset,
				DatasetReference: &bq.DatasetReference{ProjectId: ref.Project, DatasetId: ref.Dataset},
				Location:         restLocation,
			})
		}
	})
	mux.HandleFunc("GET /bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table}", func(w http.ResponseWriter, r *http.Request) {
		ref := tableRef{Project: r.PathValue("project"), Dataset: r.PathValue("dataset"), Table: r.PathValue("table")}
		v, err := c.resolve(r.Context(), ref, timeZero)
		if err != nil {
			writeRESTError(w, err)
			return
		}
		writeJSON(w, restTable(v))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "notFound", "the emulator does not serve "+r.Method+" "+r.URL.Path+
			": it serves datasets.get, datasets.list, tables.get, tables.list, tabledata.list and the query jobs' methods (jobs.insert, get, getQueryResults, query, cancel) under /bigquery/v2/, and the Storage Read API over gRPC")
	})
	return mux
}

func restTable(v *tableVersion) *bq.Table {
	ref := v.ref
	t := &bq.Table{
		Kind:             "bigquery#table",
		Id:               ref.Project + ":" + ref.Dataset + "." + ref.Table,
		TableReference:   &bq.TableReference{ProjectId: ref.Project, DatasetId: ref.Dataset, TableId: ref.Table},
		Schema:           &bq.TableSchema{Fields: restFields(v.schema)},
		NumRows:          uint64(v.rows.numRows()),
		NumBytes:         v.bytes,
		Type:             v.kind,
		Location:         restLocation,
		CreationTime:     v.created.UnixMilli(),
		LastModifiedTime: uint64(v.since.UnixMilli()),
	}
	restPartitioning(t, v.partitioning)
	if !v.expires.IsZero() {
		t.ExpirationTime = v.expires.UnixMilli()
	}
	switch v.kind {
	case kindView:
		t.View = &bq.ViewDefinition{Query: v.query}
	case kindMaterializedView:
		t.MaterializedView = &bq.MaterializedViewDefinition{Query: v.query}
	}
	return t
}

func restFields(fields []*schema.Field) []*bq.TableFieldSchema {
	out := make([]*bq.TableFieldSchema, len(fields))
	for i, f := range fields {
		t := string(f.Type)
		if legacy, ok := legacyTypes[f.Type]; ok {
			t = legacy
		}
		out[i] = &bq.TableFieldSchema{Name: f.Name, Type: t, Mode: string(f.Mode), Description: f.Description, Fields: restFields(f.Fields)}
		if f.RangeElementType != nil {
			out[i].RangeElementType = &bq.TableFieldSchemaRangeElementType{Type: string(f.RangeElementType.Type)}
		}
		if f.TimestampPrecision != 0 {
			p := int64(f.TimestampPrecision)
			out[i].TimestampPrecision = &p
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(v)
}

// writeRESTError answers a catalog error in Google's JSON error shape.
func writeRESTError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNotFound):
		writeJSONError(w, http.StatusNotFound, "notFound", userMessage(err))
	case errors.Is(err, errInvalidName), errors.Is(err, errSnapshot):
		writeJSONError(w, http.StatusBadRequest, "invalid", userMessage(err))
	default:
		writeJSONError(w, http.StatusInternalServerError, "backendError", userMessage(err))
	}
}

var restStatus = map[int]string{
	http.StatusNotFound: "NOT_FOUND", http.StatusBadRequest: "INVALID_ARGUMENT",
	http.StatusInternalServerError: "INTERNAL", http.StatusForbidden: "PERMISSION_DENIED", http.StatusConflict: "ALREADY_EXISTS",
}

func writeJSONError(w http.ResponseWriter, code int, reason, msg string) {
	type item struct {
		Message string `json:"message"`
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
	}
	body := map[string]any{"error": map[string]any{
		"code":    code,
		"message": msg,
		"errors":  []item{{Message: msg, Domain: "global", Reason: reason}},
		"status":  restStatus[code],
	}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}
