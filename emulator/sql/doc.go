// Package sql parses and runs the emulator's subset of GoogleSQL: one SELECT over one table.
//
//	SELECT [ALL] item, ...        item: *, * EXCEPT (col, ...), alias.*, struct.*,
//	                                    col, alias.col, struct.field... [[AS] name]
//	FROM table [[AS] alias]      table: `project.dataset.table`, project.dataset.table,
//	                                    dataset.table (the job's project), table (its default dataset)
//	[WHERE condition]             the row-restriction expressions of package filter, on top-level
//	                              columns (alias.col too) and the partition pseudo-columns
//	                              _PARTITIONTIME and _PARTITIONDATE, which * leaves out
//	[ORDER BY key [ASC|DESC] [NULLS FIRST|LAST], ...]
//	                              key: a column or STRUCT field path, a select-list alias or
//	                              position; NULLs first ascending and last descending, NaN
//	                              before all other FLOAT64 values, as in BigQuery
//	[LIMIT n [OFFSET m]]
//
// Anything else valid in GoogleSQL (joins, GROUP BY, DISTINCT, functions or expressions in the
// select list, subqueries, WITH, set operations, DML, DDL, scripts, query parameters, ...) is an
// *Error with Unsupported set and the message "not supported by the emulator: <construct>", never
// a wrong answer. Errors carry BigQuery's line and column ("... at [1:8]"). The package does no I/O:
// Run reads the table through a function its caller gives.
package sql
