// Package session creates Storage Read sessions: it parses table references, builds the
// BigQueryReadClient for an endpoint (the real service with Application Default Credentials, or a
// plaintext loopback emulator), calls CreateReadSession, and writes the manifest that workers read.
// It reads no rows.
package session

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrTableRef is wrapped by ParseTable errors.
var ErrTableRef = errors.New("session: invalid table reference")

// TableRef names a BigQuery table.
type TableRef struct {
	Project, Dataset, Table string
}

var (
	// Project IDs: lowercase letters, digits, hyphens; domain-scoped ones carry "example.com:".
	projectRE = regexp.MustCompile(`^([a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
	datasetRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	// Table names allow Unicode letters, marks, numbers, connectors, dashes and spaces; a
	// decorator (@snapshot) or wildcard is not a table.
	tableRE = regexp.MustCompile(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]+$`)
)

// ParseTable parses `project.dataset.table`, `project:dataset.table` or
// `projects/P/datasets/D/tables/T`.
func ParseTable(s string) (TableRef, error) { return ParseTableIn(s, "") }

// ParseTableIn is ParseTable that also takes `dataset.table`, a table of project (when not "").
func ParseTableIn(s, project string) (TableRef, error) {
	t, err := splitTable(s, project)
	if err != nil {
		return TableRef{}, err
	}
	switch {
	case len(t.Dataset) > 1024 || len(t.Table) > 1024:
		return TableRef{}, fmt.Errorf("%w: %q: dataset and table names are at most 1024 characters", ErrTableRef, s)
	case !projectRE.MatchString(t.Project):
		return TableRef{}, fmt.Errorf("%w: %q: project %q is not a project ID (lowercase letters, digits and hyphens, starting with a letter)", ErrTableRef, s, t.Project)
	case !datasetRE.MatchString(t.Dataset):
		return TableRef{}, fmt.Errorf("%w: %q: dataset %q may hold only letters, digits and underscores", ErrTableRef, s, t.Dataset)
	case !tableRE.MatchString(t.Table):
		return TableRef{}, fmt.Errorf("%w: %q: table %q may hold only letters, digits, underscores, dashes and spaces", ErrTableRef, s, t.Table)
	}
	return t, nil
}

const refForms = "use project.dataset.table, project:dataset.table or projects/P/datasets/D/tables/T"

func splitTable(s, defaultProject string) (TableRef, error) {
	if strings.HasPrefix(s, "projects/") {
		p := strings.Split(s, "/")
		if len(p) != 6 || p[2] != "datasets" || p[4] != "tables" {
			return TableRef{}, fmt.Errorf("%w: %q: %s", ErrTableRef, s, refForms)
		}
		return TableRef{Project: p[1], Dataset: p[3], Table: p[5]}, nil
	}
	// The project may contain one ':' (domain-scoped) and '.' (in the domain), so split from the right.
	rest, table, ok := cutLast(s, ".")
	if !ok {
		return TableRef{}, fmt.Errorf("%w: %q: %s", ErrTableRef, s, refForms)
	}
	var project, dataset string
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i+1:], ".") {
		project, dataset = rest[:i], rest[i+1:]
	} else if project, dataset, ok = cutLast(rest, "."); !ok && defaultProject != "" {
		project, dataset = defaultProject, rest
	} else if !ok {
		return TableRef{}, fmt.Errorf("%w: %q: %s (or dataset.table with a default project)", ErrTableRef, s, refForms)
	}
	return TableRef{Project: project, Dataset: dataset, Table: table}, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// String returns the reference as project.dataset.table.
func (t TableRef) String() string { return t.Project + "." + t.Dataset + "." + t.Table }

// Path returns the resource name projects/P/datasets/D/tables/T.
func (t TableRef) Path() string {
	return "projects/" + t.Project + "/datasets/" + t.Dataset + "/tables/" + t.Table
}
