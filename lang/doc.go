// Package lang reads .loop.hcl specs into a static configuration.
//
// It parses one file or a directory of *.loop.hcl files with hclparse,
// decodes every block whose shape is fixed by the language (variable,
// locals, model, dataset, stage, loop, output, settings) by schema, and keeps
// an hcl.Range on everything so later phases can point at the exact token.
//
// The job stops at decoding: lang never evaluates an expression that could
// depend on another part of the spec, never looks up an operator, and never
// reads data. Operator-specific bodies (the arguments of a stage, a model or
// a dataset) are kept as unevaluated hcl.Body values and decoded by the
// compiler against the operator's signature, the way Terraform's configs
// package leaves provider bodies to the provider schema. The only values lang
// evaluates are constants that must be known before anything else: a
// variable's type and default. The sibling that evaluates is package compiler.
//
// The extraction-pattern language lives in the subpackage lang/pattern.
package lang
