// Reads a Parquet file with hyparquet (an independent, pure-JavaScript
// reader) and prints one JSON line of column types, then one JSON object per
// row. INT64 values (BigInt in JavaScript) are printed as decimal strings so
// no digit is lost; JSON columns are parsed by hyparquet itself.
// Usage: node read.mjs FILE
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

const file = await asyncBufferFromFile(process.argv[2])
const metadata = await parquetMetadataAsync(file)
const types = {}
for (const col of parquetSchema(metadata).children) {
  const e = col.element
  types[e.name] = [e.type, e.logical_type?.type ?? e.converted_type ?? null, e.repetition_type]
}
const codecs = [...new Set(metadata.row_groups.flatMap(rg => rg.columns.map(c => c.meta_data.codec)))]
const bigint = (_, v) => (typeof v === 'bigint' ? v.toString() : v)
process.stdout.write(JSON.stringify({ types, codecs, rows: Number(metadata.num_rows) }) + '\n')
const rows = await parquetReadObjects({ file, compressors })
for (const row of rows) process.stdout.write(JSON.stringify(row, bigint) + '\n')
