// Reads a Parquet file with hyparquet (an implementation independent of arrow-go) and prints
// {"schema": [...], "num_rows": N, "rows": [...]} as JSON, for package output's tests.
// Values are printed exactly: INT64, TIME and TIMESTAMP as decimal strings of their stored
// integers, DATE as days since the epoch, BYTES as base64, non-finite floats as strings.
import { parquetMetadataAsync, parquetReadObjects, asyncBufferFromFile } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

const file = await asyncBufferFromFile(process.argv[2])
const parsers = {
  timestampFromMilliseconds: v => String(v),
  timestampFromMicroseconds: v => String(v),
  timestampFromNanoseconds: v => String(v),
  dateFromDays: v => v,
}
const metadata = await parquetMetadataAsync(file, { parsers })
const rows = await parquetReadObjects({ file, metadata, compressors, parsers, utf8: false })
const schema = metadata.schema.map(e => ({
  name: e.name,
  type: e.type ?? null,
  type_length: e.type_length ?? null,
  repetition_type: e.repetition_type ?? null,
  logical_type: e.logical_type ?? null,
}))
process.stdout.write(JSON.stringify({ schema, num_rows: Number(metadata.num_rows), rows }, (key, v) => {
  if (v === undefined) return null
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
  return v
}))
