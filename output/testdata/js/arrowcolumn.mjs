// Reads one column of an Arrow IPC file with the Apache Arrow JavaScript library (independent of
// arrow-go) and prints {"type": ..., "values": [...]} as JSON, for tests that need exact values:
// int64 and timestamps as decimal strings of their stored integers (the library's rows give
// timestamps as float milliseconds), other values as the library reads them, null as null.
import { readFileSync } from 'node:fs'
import { tableFromIPC } from 'apache-arrow'

const table = tableFromIPC(readFileSync(process.argv[2]))
const vec = table.getChild(process.argv[3])
const values = []
for (const d of vec.data) {
  for (let i = 0; i < d.length; i++) {
    if (!d.getValid(i)) values.push(null)
    else if (d.values instanceof BigInt64Array) values.push(String(d.values[d.offset + i]))
    else values.push(vec.get(values.length))
  }
}
process.stdout.write(JSON.stringify({ type: String(vec.type), values }))
