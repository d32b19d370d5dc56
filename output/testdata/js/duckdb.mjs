// Runs one SQL query with DuckDB (independent of bqread's writers) and prints its rows as a JSON
// array of objects, for package output's tests: NULL as null, lists as arrays, structs as objects,
// other values as DuckDB's JSON forms of them. The query names the file it reads, as in
// SELECT * FROM read_csv('x.csv', all_varchar = true).
import { DuckDBInstance } from '@duckdb/node-api'

const db = await DuckDBInstance.create(':memory:')
const conn = await db.connect()
const reader = await conn.runAndReadAll(process.argv[2])
process.stdout.write(JSON.stringify(reader.getRowObjectsJson()))
