// Package dataset reads and writes ouro's canonical dataset artifacts: the
// typed records that flow between stages.
//
// An artifact is UTF-8 text. The first line is a header naming the format
// version and the record schema (a cty object type in cty's JSON type
// syntax):
//
//	{"ouro_dataset":1,"schema":["object",{"answer":"number","question":"string"}]}
//
// and each further line is one record in canonical JSON: object keys sorted
// (bytewise), no insignificant spaces, every schema field present (null
// written explicitly), strings as UTF-8 (NFC, as cty keeps them) escaping only
// '"', '\' and control characters, and numbers in one shortest form (see
// appendCanonical). So the same records in the same order always give the same
// bytes, hence the same blob digest.
//
// Where its job stops: the package knows records and schemas, not operators,
// stages or stores beyond the store.BlobStore interface it writes through.
// Parsing user data files (CSV, JSONL, Parquet) into records is the dataset
// operator's job.
package dataset
