// Package report builds `ouro report`: one self-contained HTML file about
// one or more recorded runs — what produced each run, its metric curves per
// round, a timeline of its stages and a viewer of the records its
// generate, judge, verify, filter, refine and evaluate stages produced.
//
// The work is two steps with a value between them, so the data can be
// tested apart from the HTML:
//
//	Build(src, refs, opts) → *Report   what goes in: read from the store only
//	(*Report).WriteHTML(w)             how it looks: html/template, gonum SVG
//
// Build reads run records (store.RunRecord), the stage entries their stage
// keys name (store.StageEntry) and the dataset blobs those results
// reference, through package dataset's reader; it parses no file format of
// its own. Everything it cannot read — a stage entry or a blob collected by
// `ouro cache gc`, a store held by a running process that answers only run
// queries — becomes a line of Report.Missing and a note on the part
// affected, never an error: a report of what is left is more useful than
// none. A filter's dropped records are found by comparing its input
// dataset with its output (operators record no per-record reason; the
// filter's one rule is its `where`); its input is the stage output whose
// runtime.DatasetInputDigest equals the entry's recorded input digest.
//
// Why here, under cmd/ouro/internal: the report is a view of the CLI, like
// `ouro show`, and nothing else imports it. It sits above runtime and
// runtime/store and below the cobra command (cmd/ouro/report.go), which
// only resolves flags, opens the store and writes the file.
//
// Where its job stops: it never writes to the store, never runs or
// compiles a spec, and never fetches anything: the HTML it writes holds
// its styles, script and charts inline and refers to no other file or
// address, so it opens offline from file://. Charts are drawn by
// gonum.org/v1/plot's SVG backend (vgsvg) without embedded fonts (the
// browser's sans-serif is used); the page script (search, paging, stage
// choice) is plain JavaScript in report.js. Output is deterministic: the
// same store and arguments give the same bytes (no generation time, every
// map read in sorted order).
package report
