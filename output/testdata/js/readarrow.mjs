// Reads an Arrow IPC file with the Apache Arrow JavaScript library (independent of arrow-go) and
// prints {"fields": [{name, type, metadata}], "num_batches": N, "rows": [...]} as JSON, for package
// output's tests. Values: int64 and timestamps as decimal strings, binary as base64, non-finite
// floats as strings.
import { readFileSync } from 'node:fs'
import { tableFromIPC } from 'apache-arrow'

const table = tableFromIPC(readFileSync(process.argv[2]))
const fields = table.schema.fields.map(f => ({
  name: f.name,
  type: String(f.type),
  metadata: Object.fromEntries(f.metadata),
}))
process.stdout.write(JSON.stringify({ fields, num_batches: table.batches.length, rows: table.toArray() }, (key, v) => {
  if (v === undefined) return null
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
  return v
}))
