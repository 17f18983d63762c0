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
// '"', '\' and control characters, and numbers in one canonical text (see
// appendNumber): an integer of magnitude below 2^63 exactly, as its digits;
// any other number as the float64 it rounds to, in the shortest form that
// reads back as that float64, laid out as JavaScript (and RFC 8785) does. So
// the same records in the same order always give the same bytes, hence the
// same blob digest, and every number a dataset holds survives a trip through
// an INT64 or DOUBLE column, or any JSON reader that parses float64.
//
// Where its job stops: the package knows records and schemas, not operators,
// stages or stores beyond the store.BlobStore interface it writes through.
// Parsing user data files (CSV, JSONL, Parquet) into records is the dataset
// operator's job.
package dataset
