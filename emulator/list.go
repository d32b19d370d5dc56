package emulator

import (
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"

	bq "google.golang.org/api/bigquery/v2"
)

// datasets.list and tables.list: what a project and a dataset hold, sorted by name, in pages.

// datasets returns the datasets of a project: the samples' in theirs, the data directory's, and
// the anonymous dataset of query results when all is set (BigQuery lists hidden datasets, those
// whose names start with "_", only then).
func (c *catalog) datasets(project string, all bool) []string {
	var out []string
	if project == SampleProject {
		out = append(out, SampleDataset)
	}
	for _, d := range c.dirNames(project) {
		if d != SampleDataset || project != SampleProject {
			out = append(out, d)
		}
	}
	anon := anonymousDataset(project)
	if all && len(c.resultTables(tableRef{Project: project, Dataset: anon})) > 0 {
		out = append(out, anon)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// tablesOf returns the tables of a dataset with their types.
func (c *catalog) tablesOf(r tableRef) map[string]string {
	out := map[string]string{}
	if isSample(r) {
		names, _ := fs.ReadDir(samplesFS, path.Join("samples", r.Project, r.Dataset))
		for _, n := range names {
			out[n.Name()] = kindTable
		}
	}
	for _, t := range c.dirNames(path.Join(r.Project, r.Dataset)) {
		dir := path.Join(r.Project, r.Dataset, t)
		if _, _, err := c.stamp(dir); err != nil || out[t] != "" {
			continue
		}
		sub, err := fs.Sub(c.root.FS(), dir)
		if err != nil {
			continue
		}
		meta, err := loadMeta(sub)
		if err != nil {
			meta.Type = kindTable // tables.get says what is wrong with it
		}
		out[t] = meta.Type
	}
	for _, t := range c.resultTables(r) {
		out[t] = kindTable
	}
	return out
}

// dirNames returns the names of the directories under dir of the data directory that are valid
// dataset or table IDs.
func (c *catalog) dirNames(dir string) []string {
	if c.root == nil {
		return nil
	}
	entries, err := fs.ReadDir(c.root.FS(), dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && validID(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// listPage returns the part of names that pageToken (an index) and maxResults ask for, and the
// next page's token.
func listPage(w http.ResponseWriter, r *http.Request, names []string) ([]string, string, bool) {
	q := r.URL.Query()
	start, size := 0, len(names)
	if s := q.Get("pageToken"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > len(names) {
			writeJSONError(w, http.StatusBadRequest, "invalid", "Invalid page token "+strconv.Quote(s))
			return nil, "", false
		}
		start = n
	}
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeJSONError(w, http.StatusBadRequest, "invalid", "Invalid maxResults "+strconv.Quote(s))
			return nil, "", false
		}
		if n > 0 {
			size = n
		}
	}
	end := min(len(names), start+size)
	token := ""
	if end < len(names) {
		token = strconv.Itoa(end)
	}
	return names[start:end], token, true
}

func listRoutes(mux *http.ServeMux, c *catalog) {
	mux.HandleFunc("GET /bigquery/v2/projects/{project}/datasets", func(w http.ResponseWriter, r *http.Request) {
		project := r.PathValue("project")
		if err := (tableRef{Project: project, Dataset: "d"}).validate(); err != nil {
			writeRESTError(w, err)
			return
		}
		names, token, ok := listPage(w, r, c.datasets(project, r.URL.Query().Get("all") == "true"))
		if !ok {
			return
		}
		out := &bq.DatasetList{Kind: "bigquery#datasetList", NextPageToken: token}
		for _, d := range names {
			out.Datasets = append(out.Datasets, &bq.DatasetListDatasets{Kind: "bigquery#dataset", Id: project + ":" + d,
				DatasetReference: &bq.DatasetReference{ProjectId: project, DatasetId: d}, Location: restLocation})
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("GET /bigquery/v2/projects/{project}/datasets/{dataset}/tables", func(w http.ResponseWriter, r *http.Request) {
		ref := tableRef{Project: r.PathValue("project"), Dataset: r.PathValue("dataset")}
		ok, err := c.datasetExists(ref)
		switch {
		case err != nil:
			writeRESTError(w, err)
			return
		case !ok:
			writeJSONError(w, http.StatusNotFound, "notFound", "Not found: Dataset "+ref.Project+":"+ref.Dataset)
			return
		}
		kinds := c.tablesOf(ref)
		all := make([]string, 0, len(kinds))
		for t := range kinds {
			all = append(all, t)
		}
		slices.Sort(all)
		names, token, ok := listPage(w, r, all)
		if !ok {
			return
		}
		out := &bq.TableList{Kind: "bigquery#tableList", NextPageToken: token, TotalItems: int64(len(all)),
			ForceSendFields: []string{"TotalItems"}}
		for _, t := range names {
			out.Tables = append(out.Tables, &bq.TableListTables{Kind: "bigquery#table", Id: ref.Project + ":" + ref.Dataset + "." + t,
				TableReference: &bq.TableReference{ProjectId: ref.Project, DatasetId: ref.Dataset, TableId: t}, Type: kinds[t]})
		}
		writeJSON(w, out)
	})
}
