package stdlib

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/structured"
)

// anyDataset accepts a dataset of any record type.
var anyDataset = compiler.DatasetType(cty.DynamicPseudoType)

// Parameter constructors, so each signature reads as a table.

func data(name, doc string) *compiler.Param {
	return &compiler.Param{Name: name, Doc: doc, Type: anyDataset, Required: true}
}

func modelParam(name, doc string) *compiler.Param {
	return &compiler.Param{Name: name, Doc: doc, Type: compiler.ModelType, Required: true}
}

func opt(name string, ty cty.Type, def cty.Value, doc string) *compiler.Param {
	return &compiler.Param{Name: name, Doc: doc, Type: ty, Default: def}
}

func req(name string, ty cty.Type, doc string) *compiler.Param {
	return &compiler.Param{Name: name, Doc: doc, Type: ty, Required: true}
}

func oneOf(name string, def string, doc string, values ...string) *compiler.Param {
	return &compiler.Param{Name: name, Doc: doc, Type: cty.String, Default: cty.StringVal(def), OneOf: values}
}

// perItem is a closure over the records of the dataset parameter `of`.
func perItem(name string, ty cty.Type, required bool, of, doc string) *compiler.Param {
	return &compiler.Param{Name: name, Doc: doc, Type: ty, Required: required, Mode: compiler.ModePerItem, ItemOf: of}
}

// perItemVars is a closure whose scope is computed from the checked params.
func perItemVars(name string, ty cty.Type, required bool, doc string, vars func(c *compiler.Check) map[string]cty.Type) *compiler.Param {
	return &compiler.Param{Name: name, Doc: doc, Type: ty, Required: required, Mode: compiler.ModePerItem, Vars: vars}
}

// extend returns the record type elem with fields added (replacing any of
// the same name). A dynamic elem stays dynamic: nothing is known of it.
func extend(elem cty.Type, add map[string]cty.Type) cty.Type {
	if !elem.IsObjectType() {
		return cty.DynamicPseudoType
	}
	attrs := map[string]cty.Type{}
	for k, v := range elem.AttributeTypes() {
		attrs[k] = v
	}
	for k, v := range add {
		attrs[k] = v
	}
	return cty.Object(attrs)
}

// responseSchema is the `schema` of a model operator: the record type of a
// structured response.
func responseSchema(doc string) *compiler.Param {
	return &compiler.Param{Name: "schema", Mode: compiler.ModeType, Doc: doc}
}

// checkResponseSchema reports a response schema with no JSON Schema
// equivalent (structured.FromType), at the type expression.
func checkResponseSchema(c *compiler.Check, t cty.Type) hcl.Diagnostics {
	_, err := structured.FromType(t)
	if err == nil {
		return nil
	}
	detail := err.Error()
	var te *structured.TypeError
	if errors.As(err, &te) && te.Path != "" {
		detail = fmt.Sprintf("Field %s: %s.", te.Path, te.Reason)
	} else if te != nil {
		detail = strings.ToUpper(te.Reason[:1]) + te.Reason[1:] + "."
	}
	subject := c.Range("schema")
	if te != nil && te.Path != "" {
		if r, ok := typeFieldRange(c.Exprs["schema"], te.Path); ok {
			subject = &r
		}
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid response schema", Detail: detail, Subject: subject, Context: c.Range("schema")}}
}

// typeFieldRange is the range of the part of type expression e at path
// (structured.TypeError's: "steps[].n" is field n of the element type of
// list field steps), when e spells it out with object({…}) and list(…).
func typeFieldRange(e hcl.Expression, path string) (hcl.Range, bool) {
	if e == nil {
		return hcl.Range{}, false
	}
	var steps []string
	for _, tok := range strings.Split(path, ".") {
		name, lists := tok, 0
		for strings.HasSuffix(name, "[]") {
			name, lists = strings.TrimSuffix(name, "[]"), lists+1
		}
		steps = append(steps, name)
		for range lists {
			steps = append(steps, "[]")
		}
	}
	for _, st := range steps {
		call, ok := e.(*hclsyntax.FunctionCallExpr)
		if !ok || len(call.Args) != 1 {
			return hcl.Range{}, false
		}
		switch {
		case st == "[]" && call.Name == "list":
			e = call.Args[0]
		case st != "[]" && call.Name == "object":
			oc, ok := call.Args[0].(*hclsyntax.ObjectConsExpr)
			if !ok {
				return hcl.Range{}, false
			}
			found := false
			for _, it := range oc.Items {
				if hcl.ExprAsKeyword(it.KeyExpr) == st {
					e, found = it.ValueExpr, true
					break
				}
			}
			if !found {
				return hcl.Range{}, false
			}
		default:
			return hcl.Range{}, false
		}
	}
	return e.Range(), true
}

func datasetOf(elem cty.Type) (cty.Type, hcl.Diagnostics) { return compiler.DatasetType(elem), nil }

// sampling are the generation parameters shared by model-calling operators.
func sampling() []*compiler.Param {
	return append([]*compiler.Param{
		opt("samples", cty.Number, cty.NumberIntVal(1), "Completions per item (n)."),
	}, oneSampling()...)
}

// oneSampling is sampling() without samples: for operators that decide
// how many completions they want (judge's k, refine's one per step).
func oneSampling() []*compiler.Param {
	return []*compiler.Param{
		opt("temperature", cty.Number, cty.NumberFloatVal(1.0), "Sampling temperature; 0 is greedy."),
		opt("top_p", cty.Number, cty.NumberFloatVal(1.0), "Nucleus sampling mass."),
		opt("top_k", cty.Number, cty.NumberIntVal(0), "Keep only the k most likely tokens; 0 disables."),
		opt("max_tokens", cty.Number, cty.NumberIntVal(64), "Maximum tokens per completion."),
		opt("stop", cty.List(cty.String), cty.ListValEmpty(cty.String), "Strings that end a completion (not included)."),
		opt("seed", cty.Number, cty.NumberIntVal(0), "Sampling seed; combined with the spec's seed, the item and the sample index."),
	}
}

func withParams(ps []*compiler.Param, more ...*compiler.Param) []*compiler.Param {
	return append(append([]*compiler.Param{}, ps...), more...)
}

var trainerParams = []*compiler.Param{
	oneOf("trainer", "builtin", "Who trains: the builtin pure-Go trainer, or an external command following the trainer contract (docs/trainers.md).", "builtin", "command"),
	opt("command", cty.List(cty.String), cty.NullVal(cty.List(cty.String)), "For trainer = \"command\": the program and its arguments."),
	opt("steps", cty.Number, cty.NumberIntVal(200), "Optimizer steps."),
	opt("batch_size", cty.Number, cty.NumberIntVal(16), "Examples per step."),
	opt("learning_rate", cty.Number, cty.NumberFloatVal(1e-3), "Peak learning rate (AdamW)."),
	opt("weight_decay", cty.Number, cty.NumberFloatVal(0.0), "AdamW weight decay."),
	opt("warmup", cty.Number, cty.NumberIntVal(10), "Linear warmup steps."),
	oneOf("schedule", "cosine", "Learning-rate schedule after warmup.", "cosine", "wsd", "constant"),
	opt("seed", cty.Number, cty.NumberIntVal(0), "Training seed (data order)."),
	opt("config", cty.Map(cty.String), cty.MapValEmpty(cty.String), "Extra hyperparameters passed to a command trainer as JSON."),
	opt("chat_template", cty.String, cty.NullVal(cty.String), "The prompt form the model is trained with, recorded in the checkpoint for servers that turn chat messages into a prompt: {user} (once) and optionally {system} stand for the messages, e.g. \"Q: {user}\\nA:\". Default: the base's. `ouro serve` and the GGUF and Hugging Face exports use it."),
}

var trainResult = cty.Object(map[string]cty.Type{"model": compiler.ModelType, "loss": cty.Number, "examples": cty.Number})

// trainCheck is sft's and dpo's Result: their value, after checking a
// chat_template known at compile time.
func trainCheck(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
	if v, ok := c.Known("chat_template"); ok {
		if err := gpt.CheckChatTemplate(v.AsString()); err != nil || v.AsString() == "" {
			detail := "An empty chat template records nothing; leave chat_template out to keep the base's."
			if err != nil {
				detail = strings.ToUpper(err.Error()[:1]) + err.Error()[1:] + ". Write {user} where the user's message goes, for example \"Q: {user}\\nA:\"."
			}
			return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid chat template", Detail: detail, Subject: c.Range("chat_template")}}
		}
	}
	return trainResult, nil
}

func operatorSignatures() []*compiler.Signature {
	return []*compiler.Signature{
		{
			Name: "dataset", Family: compiler.Acquisition,
			Doc: "Records from JSONL, CSV or Parquet files (or a glob of them), or inline rows, checked against a declared schema.",
			Params: []*compiler.Param{
				opt("source", cty.String, cty.NullVal(cty.String), "Path or glob of the data files, relative to the spec."),
				opt("rows", cty.DynamicPseudoType, cty.NullVal(cty.DynamicPseudoType), "Inline records: a list of objects."),
				{Name: "schema", Mode: compiler.ModeType, Doc: "Record type, e.g. object({ question = string, answer = number }). Inferred at run time when omitted."},
				oneOf("format", "auto", "File format; auto picks by extension.", "auto", "jsonl", "csv", "parquet"),
				oneOf("on_error", "fail", "What a record that does not fit the schema does: fail the stage, or skip it (counted in the run record).", "fail", "skip"),
				opt("limit", cty.Number, cty.NullVal(cty.Number), "Keep only the first n records."),
				opt("min_records", cty.Number, cty.NullVal(cty.Number), "Fail the stage when the dataset has fewer records than this (without it, an empty dataset is a warning)."),
				oneOf("invalid_utf8", "fail", "What bytes that are not UTF-8 do: fail the stage (a record error naming the file, line and byte), or replace each run of them with U+FFFD (counted as utf8_replaced in the run record).", "fail", "replace"),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				var diags hcl.Diagnostics
				srcV, hasSrc := c.Values["source"]
				rowsV, hasRows := c.Values["rows"]
				hasSrc = hasSrc && !srcV.IsNull()
				hasRows = hasRows && !rowsV.IsNull()
				if hasSrc == hasRows {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid dataset", Detail: "A dataset needs exactly one of `source` (files) or `rows` (inline records).", Subject: c.DeclRange.Ptr()})
					return cty.NilType, diags
				}
				if s, ok := c.Schemas["schema"]; ok {
					if !s.IsObjectType() {
						diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid schema", Detail: fmt.Sprintf("A dataset's schema is an object type, such as object({ question = string }); this is %s.", compiler.TypeString(s)), Subject: c.Range("schema")})
						return cty.NilType, diags
					}
					return compiler.DatasetType(s), diags
				}
				if hasRows {
					if t := rowsV.Type(); (t.IsTupleType() || t.IsListType()) && rowsV.IsKnown() {
						var elem cty.Type = cty.NilType
						for it := rowsV.ElementIterator(); it.Next(); {
							_, v := it.Element()
							if elem == cty.NilType {
								elem = v.Type()
							} else if !elem.Equals(v.Type()) {
								elem = cty.DynamicPseudoType
							}
						}
						if elem != cty.NilType && elem.IsObjectType() {
							return compiler.DatasetType(elem), diags
						}
					}
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Dataset without a schema", Detail: "Without `schema`, the record type is inferred at run time and expressions over these records are not type-checked. Declare `schema = object({ … })`.", Subject: c.DeclRange.Ptr()})
				return compiler.DatasetType(cty.DynamicPseudoType), diags
			},
		},
		{
			Name: "generate", Family: compiler.Acquisition,
			Doc: "Samples completions from a model for each record: a prompt string or chat messages per item. Output: the input fields plus prompt, completion, sample, finish_reason (and logprob when asked).",
			Params: withParams([]*compiler.Param{
				modelParam("model", "The model to sample from."),
				data("input", "Records to prompt with."),
				perItem("prompt", cty.String, false, "input", "Prompt per item (a string)."),
				perItem("messages", cty.List(cty.Object(map[string]cty.Type{"role": cty.String, "content": cty.String})), false, "input", "Chat messages per item, instead of prompt."),
				opt("logprobs", cty.Bool, cty.False, "Also record the completion's total log-probability."),
				responseSchema("The record type of a structured response, e.g. object({ answer = number, reasoning = string }): the model is asked for a JSON document of that type (response_format json_schema; the builtin model decodes under the constraint) and the parsed record goes into the field parsed."),
				oneOf("on_invalid", "fail", "With schema: what a completion that is not a document of the schema does: fail the stage (naming the record and sample), get a null parsed, or drop the record (counted as invalid_responses).", "fail", "null", "drop"),
			}, sampling()...),
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				if c.Has("prompt") == c.Has("messages") {
					return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid generate stage", Detail: "Give exactly one of `prompt` or `messages`.", Subject: c.DeclRange.Ptr()}}
				}
				add := map[string]cty.Type{"prompt": cty.String, "completion": cty.String, "sample": cty.Number, "finish_reason": cty.String}
				if v, ok := c.Known("logprobs"); ok && v.True() {
					add["logprob"] = cty.Number
				}
				if st, ok := c.Schemas["schema"]; ok {
					if d := checkResponseSchema(c, st); d.HasErrors() {
						return cty.NilType, d
					}
					add["parsed"] = st
				}
				return datasetOf(extend(c.Elem("input"), add))
			},
		},
		{
			Name: "command", Family: compiler.Acquisition,
			Doc: "Runs an external program: records in as JSONL on stdin (when input is set), records out as JSONL on stdout, checked against the declared schema.",
			Params: []*compiler.Param{
				{Name: "input", Doc: "Records sent to the program's stdin as JSONL.", Type: anyDataset},
				req("command", cty.List(cty.String), "The program and its arguments."),
				{Name: "schema", Mode: compiler.ModeType, Required: true, Doc: "Type of the records the program prints."},
				opt("env", cty.Map(cty.String), cty.MapValEmpty(cty.String), "Extra environment variables."),
				opt("dir", cty.String, cty.NullVal(cty.String), "Working directory, relative to the spec."),
				opt("timeout", cty.String, cty.StringVal("10m"), "Time limit, as a Go duration."),
				opt("version", cty.String, cty.StringVal(""), "Bump to invalidate cached results when the program changes."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) { return datasetOf(c.Schemas["schema"]) },
		},
		{
			Name: "extract", Family: compiler.Selection,
			Doc: "Parses a text field with an extraction pattern into typed fields under `as`. Records that do not match get null captures (item.parsed.answer is null), or are dropped.",
			Params: []*compiler.Param{
				data("input", "Records to parse."),
				perItem("from", cty.String, true, "input", "The text to parse, e.g. item.completion."),
				{Name: "pattern", Mode: compiler.ModePattern, Required: true, Doc: "Extraction pattern, e.g. \"Answer: {answer:number}\" (docs/patterns.md)."},
				opt("as", cty.String, cty.StringVal("parsed"), "Field that receives the captures."),
				oneOf("on_mismatch", "null", "What a record that does not match gets: null captures, or dropped.", "null", "drop"),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				as := "parsed"
				if v, ok := c.Known("as"); ok {
					as = v.AsString()
				}
				return datasetOf(extend(c.Elem("input"), map[string]cty.Type{as: c.Patterns["pattern"].ObjectType()}))
			},
		},
		{
			Name: "verify", Family: compiler.Selection,
			Doc: "Checks an answer against an expected value and adds a boolean field: exact, numeric (with tolerance), normalized string, regex, JSON equality, or an external checker command.",
			Params: []*compiler.Param{
				data("input", "Records to check."),
				oneOf("check", "exact", "The check to run.", "exact", "numeric", "normalized", "regex", "json", "command"),
				perItem("answer", cty.DynamicPseudoType, true, "input", "The value to check, e.g. item.parsed.answer."),
				perItem("expected", cty.DynamicPseudoType, false, "input", "The reference value (or, for regex, the pattern)."),
				opt("tolerance", cty.Number, cty.NumberFloatVal(1e-6), "For numeric: absolute tolerance."),
				opt("command", cty.List(cty.String), cty.NullVal(cty.List(cty.String)), "For command: the checker; gets {answer, expected, item} as JSON on stdin, exit 0 = pass."),
				opt("timeout", cty.String, cty.StringVal("1m"), "For command: time limit per record."),
				opt("as", cty.String, cty.StringVal("correct"), "Field that receives the result."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				as := "correct"
				if v, ok := c.Known("as"); ok {
					as = v.AsString()
				}
				return datasetOf(extend(c.Elem("input"), map[string]cty.Type{as: cty.Bool}))
			},
		},
		{
			Name: "judge", Family: compiler.Selection,
			Doc: "LLM-as-a-judge: prompts a model with a rubric per item, extracts a score with a pattern, repeats k times and averages. Adds score and judgements.",
			Params: withParams([]*compiler.Param{
				modelParam("model", "The judge model."),
				data("input", "Records to judge."),
				perItem("prompt", cty.String, true, "input", "Rubric prompt per item."),
				{Name: "pattern", Mode: compiler.ModePattern, Doc: "Pattern with a number capture named score, e.g. \"Score: {score:number}\". Give pattern or schema."},
				responseSchema("Instead of pattern: the record type of a structured judgement, with a number field score, e.g. object({ reasoning = string, score = number }); the model is asked for a JSON document of that type and the k parsed judgements go into the field verdicts (null for one that is not a document of the schema)."),
				opt("k", cty.Number, cty.NumberIntVal(1), "Judgements per item, averaged."),
			}, oneSampling()...),
			Removed: map[string]string{"samples": "judge takes `k`, the judgements per item (the completions of the rubric prompt), instead of samples: write k = N."},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				add := map[string]cty.Type{"score": cty.Number, "judgements": cty.List(cty.String)}
				pat, hasPat := c.Patterns["pattern"]
				st, hasSchema := c.Schemas["schema"]
				switch {
				case hasPat == hasSchema:
					return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid judge stage", Detail: "Give exactly one of `pattern` (a score parsed from free text) or `schema` (a structured judgement with a score field).", Subject: c.DeclRange.Ptr()}}
				case hasPat && !pat.ObjectType().HasAttribute("score"):
					return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Judge pattern without score", Detail: "The judge's pattern must capture a number named score, e.g. \"Score: {score:number}\".", Subject: c.Range("pattern")}}
				case hasSchema:
					if d := checkResponseSchema(c, st); d.HasErrors() {
						return cty.NilType, d
					}
					if !st.HasAttribute("score") || !st.AttributeType("score").Equals(cty.Number) {
						return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Judge schema without score", Detail: fmt.Sprintf("The judge's schema must have a number field named score, e.g. object({ reasoning = string, score = number }); this is %s.", compiler.TypeString(st)), Subject: c.Range("schema")}}
					}
					add["verdicts"] = cty.List(st)
				}
				return datasetOf(extend(c.Elem("input"), add))
			},
		},
		{
			Name: "filter", Family: compiler.Selection,
			Doc: "Keeps the records for which `where` is true.",
			Params: []*compiler.Param{
				data("input", "Records to filter."),
				perItem("where", cty.Bool, true, "input", "Condition per item; null counts as false."),
			},
		},
		{
			Name: "map", Family: compiler.Selection,
			Doc: "Adds or replaces fields computed per item; `drop` removes fields (either alone, or both).",
			Params: []*compiler.Param{
				data("input", "Records to transform."),
				perItem("fields", cty.DynamicPseudoType, false, "input", "An object of new field values, e.g. { length = strlen(item.text) }."),
				opt("drop", cty.List(cty.String), cty.ListValEmpty(cty.String), "Fields to remove."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				ft, given := c.ItemTypes["fields"]
				if !given {
					if v, ok := c.Known("drop"); ok && v.LengthInt() == 0 {
						return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Nothing to map", Detail: "A map stage needs `fields` (new field values), `drop` (fields to remove), or both.", Subject: c.Range("fields")}}
					}
					ft = cty.EmptyObject
				}
				if !ft.IsObjectType() {
					return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid fields", Detail: fmt.Sprintf("`fields` must be an object of field values, not %s.", compiler.TypeString(ft)), Subject: c.Range("fields")}}
				}
				elem := extend(c.Elem("input"), ft.AttributeTypes())
				if v, ok := c.Known("drop"); ok && elem.IsObjectType() {
					attrs := elem.AttributeTypes()
					out := map[string]cty.Type{}
					drop := map[string]bool{}
					for _, d := range v.AsValueSlice() {
						drop[d.AsString()] = true
						if _, ok := attrs[d.AsString()]; !ok {
							return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown field in drop", Detail: fmt.Sprintf("The records have no field %q to drop.", d.AsString()), Subject: c.Range("drop")}}
						}
					}
					for k, t := range attrs {
						if !drop[k] {
							out[k] = t
						}
					}
					elem = cty.Object(out)
				}
				return datasetOf(elem)
			},
		},
		{
			Name: "dedupe", Family: compiler.Selection,
			Doc: "Removes duplicates: exact by a key expression, or near-duplicates by MinHash/LSH over a text expression (Jaccard similarity of word shingles ≥ threshold). Keeps the first of each cluster.",
			Params: []*compiler.Param{
				data("input", "Records to deduplicate."),
				oneOf("method", "exact", "exact (by key) or minhash (by text).", "exact", "minhash"),
				perItem("key", cty.DynamicPseudoType, false, "input", "For exact: the identity of a record; defaults to the whole record."),
				perItem("text", cty.String, false, "input", "For minhash: the text compared."),
				opt("threshold", cty.Number, cty.NumberFloatVal(0.7), "For minhash: Jaccard similarity at or above which two texts are duplicates."),
				opt("shingle", cty.Number, cty.NumberIntVal(3), "For minhash: words per shingle."),
				opt("permutations", cty.Number, cty.NumberIntVal(128), "For minhash: hash functions."),
			},
		},
		{
			Name: "sample", Family: compiler.Selection,
			Doc: "Draws a seeded random sample: n records or a fraction, optionally stratified by a key.",
			Params: []*compiler.Param{
				data("input", "Records to sample from."),
				opt("n", cty.Number, cty.NullVal(cty.Number), "Number of records (per stratum when by is set)."),
				opt("fraction", cty.Number, cty.NullVal(cty.Number), "Share of records to keep, in [0, 1]."),
				perItem("by", cty.DynamicPseudoType, false, "input", "Stratify by this key."),
				opt("seed", cty.Number, cty.NumberIntVal(0), "Sampling seed."),
			},
		},
		{
			Name: "top", Family: compiler.Selection,
			Doc: "Orders records by an expression and keeps the first k, optionally per group (RAFT's reward ranking).",
			Params: []*compiler.Param{
				data("input", "Records to rank."),
				perItem("by", cty.Number, true, "input", "Ranking score per item."),
				req("k", cty.Number, "Records to keep (per group when per is set)."),
				perItem("per", cty.DynamicPseudoType, false, "input", "Group key: keep k per group."),
				oneOf("order", "desc", "desc keeps the highest scores, asc the lowest.", "desc", "asc"),
			},
		},
		{
			Name: "group", Family: compiler.Selection,
			Doc: "Groups records by a key: one record per key with the key, the count and the grouped items.",
			Params: []*compiler.Param{
				data("input", "Records to group."),
				perItem("key", cty.DynamicPseudoType, true, "input", "Group key per item."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				return datasetOf(cty.Object(map[string]cty.Type{"key": c.ItemTypes["key"], "count": cty.Number, "items": cty.List(c.Elem("input"))}))
			},
		},
		{
			Name: "pair", Family: compiler.Selection,
			Doc: "Builds preference pairs per prompt from scored samples: chosen = highest score, rejected = lowest; prompts whose best and worst tie are dropped (the Self-Rewarding rule).",
			Params: []*compiler.Param{
				data("input", "Scored samples."),
				perItem("prompt", cty.String, true, "input", "The prompt a sample answers (the group)."),
				perItem("response", cty.String, true, "input", "The sample's response."),
				perItem("score", cty.Number, true, "input", "The sample's score."),
				opt("min_margin", cty.Number, cty.NumberIntVal(0), "Drop pairs whose score difference is not above this."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				return datasetOf(cty.Object(map[string]cty.Type{"prompt": cty.String, "chosen": cty.String, "rejected": cty.String, "chosen_score": cty.Number, "rejected_score": cty.Number}))
			},
		},
		{
			Name: "split", Family: compiler.Selection,
			Doc: "Splits records into train and test, by a seeded fraction or by a hash of a key (so the same key always lands on the same side).",
			Params: []*compiler.Param{
				data("input", "Records to split."),
				req("fraction", cty.Number, "Share of records in test."),
				perItem("key", cty.DynamicPseudoType, false, "input", "Split by a hash of this key instead of at random."),
				opt("seed", cty.Number, cty.NumberIntVal(0), "Split seed."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				d := compiler.DatasetType(c.Elem("input"))
				return cty.Object(map[string]cty.Type{"train": d, "test": d}), nil
			},
		},
		{
			Name: "concat", Family: compiler.Selection,
			Doc: "Concatenates datasets with the same record type, in order.",
			Params: []*compiler.Param{
				req("inputs", cty.DynamicPseudoType, "A list of datasets, e.g. [stage.a, dataset.b]."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				t := c.Types["inputs"]
				bad := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid inputs", Detail: "`inputs` must be a non-empty list of datasets with the same record type.", Subject: c.Range("inputs")}}
				if !t.IsTupleType() || len(t.TupleElementTypes()) == 0 {
					return cty.NilType, bad
				}
				// An input whose type is unknown (dynamic) failed its own
				// check, which was reported there: it neither fails nor
				// decides this one.
				var elem cty.Type = cty.NilType
				for _, et := range t.TupleElementTypes() {
					if et == cty.DynamicPseudoType {
						continue
					}
					if !compiler.IsDatasetType(et) {
						return cty.NilType, bad
					}
					e := compiler.DatasetElem(et)
					switch {
					case e == cty.DynamicPseudoType:
					case elem == cty.NilType:
						elem = e
					case !elem.Equals(e):
						return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Record types differ", Detail: fmt.Sprintf("concat needs one record type; got %s and %s.", compiler.TypeString(elem), compiler.TypeString(e)), Subject: c.Range("inputs")}}
					}
				}
				if elem == cty.NilType {
					elem = cty.DynamicPseudoType
				}
				return datasetOf(elem)
			},
		},
		{
			Name: "join", Family: compiler.Selection,
			Doc: "Inner join of two datasets on equal keys; the output has the fields of both (right wins on a clash).",
			Params: []*compiler.Param{
				data("left", "Left records."),
				data("right", "Right records."),
				perItem("left_key", cty.DynamicPseudoType, true, "left", "Key of a left record."),
				perItem("right_key", cty.DynamicPseudoType, true, "right", "Key of a right record."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				r := c.Elem("right")
				if !r.IsObjectType() {
					return datasetOf(cty.DynamicPseudoType)
				}
				return datasetOf(extend(c.Elem("left"), r.AttributeTypes()))
			},
		},
		{
			Name: "export", Family: compiler.Selection,
			Doc: "Writes records to a file (JSONL, CSV or Parquet) for external tools; its value is the same dataset.",
			Params: []*compiler.Param{
				data("input", "Records to write."),
				req("path", cty.String, "Destination, relative to the spec."),
				oneOf("format", "auto", "File format; auto picks by extension.", "auto", "jsonl", "csv", "parquet"),
				oneOf("compression", "zstd", "Parquet compression codec (other formats are not compressed).", "zstd", "snappy", "gzip", "none"),
				opt("csv_escape_formulas", cty.Bool, cty.True, "CSV: prefix ' to text cells that start with =, +, -, @, tab or carriage return, so spreadsheets do not run them as formulas."),
			},
		},
		{
			Name: "sft", Family: compiler.Optimization,
			Doc: "Supervised fine-tuning of a model on prompt/target pairs, loss on the target only. Value: { model, loss, examples }.",
			Params: withParams([]*compiler.Param{
				modelParam("base", "The model to start from (STaR restarts from the base model each round)."),
				data("data", "Training records."),
				perItem("prompt", cty.String, true, "data", "Prompt per record."),
				perItem("target", cty.String, true, "data", "Target completion per record."),
				opt("epochs", cty.Number, cty.NullVal(cty.Number), "Passes over the data; overrides steps when set."),
			}, trainerParams...),
			Result: trainCheck,
		},
		{
			Name: "dpo", Family: compiler.Optimization,
			Doc: "Direct preference optimization on chosen/rejected pairs against a frozen reference (the base unless given). Value: { model, loss, examples }.",
			Params: withParams([]*compiler.Param{
				modelParam("base", "The policy to start from."),
				{Name: "reference", Doc: "The frozen reference model; defaults to base.", Type: compiler.ModelType},
				data("data", "Preference pairs."),
				perItem("prompt", cty.String, true, "data", "Prompt per pair."),
				perItem("chosen", cty.String, true, "data", "Preferred response."),
				perItem("rejected", cty.String, true, "data", "Dispreferred response."),
				opt("beta", cty.Number, cty.NumberFloatVal(0.1), "DPO temperature β."),
				opt("epochs", cty.Number, cty.NullVal(cty.Number), "Passes over the data; overrides steps when set."),
			}, trainerParams...),
			Result: trainCheck,
		},
		{
			Name: "export_model", Family: compiler.Optimization,
			Doc: "Writes a builtin model for other servers: GGUF (llama.cpp, Ollama) or a Hugging Face folder (LlamaForCausalLM safetensors, config and tokenizer). Its value is the model unchanged. A NoPE model or a non-builtin model is an error.",
			Params: []*compiler.Param{
				modelParam("model", "The builtin model to export, e.g. stage.tune.model."),
				req("path", cty.String, "Destination, relative to the spec: a .gguf file, or a folder for hf."),
				oneOf("format", "gguf", "gguf: one GGUF v3 file (llama architecture, F32); hf: a Hugging Face folder.", "gguf", "hf"),
			},
			Result: func(*compiler.Check) (cty.Type, hcl.Diagnostics) { return compiler.ModelType, nil },
		},
		{
			Name: "vote", Family: compiler.Refinement,
			Doc: "Self-consistency: per group, the majority answer and the agreement rate. One record per group: the group's first record plus majority, votes and agreement.",
			Params: []*compiler.Param{
				data("input", "Sampled answers."),
				perItem("group", cty.DynamicPseudoType, true, "input", "Group key, e.g. item.question."),
				perItem("answer", cty.DynamicPseudoType, true, "input", "The answer voted on; nulls do not vote."),
			},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				return datasetOf(extend(c.Elem("input"), map[string]cty.Type{"majority": c.ItemTypes["answer"], "votes": cty.Number, "agreement": cty.Number}))
			},
		},
		{
			Name: "best_of", Family: compiler.Refinement,
			Doc: "Best-of-N: per group, the record with the highest score (first on ties).",
			Params: []*compiler.Param{
				data("input", "Scored candidates."),
				perItem("group", cty.DynamicPseudoType, true, "input", "Group key."),
				perItem("score", cty.Number, true, "input", "Score per candidate."),
			},
		},
		{
			Name: "refine", Family: compiler.Refinement,
			Doc: "Self-Refine: per item, draft → critique → revise, up to `iterations` times or until the critique contains `stop`. Adds refined and the history of every iteration.",
			Params: withParams([]*compiler.Param{
				modelParam("model", "The model that drafts, critiques and revises."),
				data("input", "Records to work on."),
				perItem("prompt", cty.String, true, "input", "Initial prompt per item."),
				perItemVars("critique", cty.String, true, "Critique prompt; sees item and draft.", refineVars(false)),
				perItemVars("revise", cty.String, true, "Revision prompt; sees item, draft and feedback.", refineVars(true)),
				opt("iterations", cty.Number, cty.NumberIntVal(2), "Maximum critique-revise rounds."),
				opt("stop_when", cty.String, cty.StringVal(""), "A critique containing this string ends refinement (empty: never)."),
			}, oneSampling()...),
			Removed: map[string]string{"samples": "refine draws one completion per draft, critique and revision; it takes no samples. To refine several drafts, generate them first (generate with samples = N) and refine that stage's records."},
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				step := cty.Object(map[string]cty.Type{"draft": cty.String, "feedback": cty.String})
				return datasetOf(extend(c.Elem("input"), map[string]cty.Type{"draft": cty.String, "refined": cty.String, "history": cty.List(step)}))
			},
		},
		{
			Name: "evaluate", Family: compiler.Evaluation,
			Doc: "Evaluates a model over a dataset: generates per item, scores each completion with `score` (item has the completion), and aggregates `metrics` over all scores. Value: { metrics, items }; metrics go into the run record every round.",
			Params: withParams([]*compiler.Param{
				modelParam("model", "The model to evaluate."),
				data("input", "Evaluation records."),
				perItem("prompt", cty.String, true, "input", "Prompt per item."),
				perItemVars("score", cty.DynamicPseudoType, true, "Score per completion; item has the input fields plus completion and sample.", func(c *compiler.Check) map[string]cty.Type {
					return map[string]cty.Type{"item": evalItem(c)}
				}),
				perItemVars("metrics", cty.DynamicPseudoType, true, "Aggregates over all items: an object of expressions over scores (the list of scores) and items.", func(c *compiler.Check) map[string]cty.Type {
					st := c.ItemTypes["score"]
					if st == cty.NilType {
						st = cty.DynamicPseudoType
					}
					return map[string]cty.Type{"scores": cty.List(st), "items": cty.List(evalItem(c))}
				}),
			}, sampling()...),
			Result: func(c *compiler.Check) (cty.Type, hcl.Diagnostics) {
				mt := c.ItemTypes["metrics"]
				if !mt.IsObjectType() {
					return cty.NilType, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid metrics", Detail: fmt.Sprintf("`metrics` must be an object such as { accuracy = mean(scores) }, not %s.", compiler.TypeString(mt)), Subject: c.Range("metrics")}}
				}
				items := compiler.DatasetType(extend(evalItem(c), map[string]cty.Type{"score": c.ItemTypes["score"]}))
				return cty.Object(map[string]cty.Type{"metrics": mt, "items": items}), nil
			},
		},
	}
}

func evalItem(c *compiler.Check) cty.Type {
	return extend(c.Elem("input"), map[string]cty.Type{"prompt": cty.String, "completion": cty.String, "sample": cty.Number, "finish_reason": cty.String})
}

func refineVars(withFeedback bool) func(c *compiler.Check) map[string]cty.Type {
	return func(c *compiler.Check) map[string]cty.Type {
		m := map[string]cty.Type{"item": c.Elem("input"), "draft": cty.String}
		if withFeedback {
			m["feedback"] = cty.String
		}
		return m
	}
}

func providerSignatures() []*compiler.Signature {
	modelResult := func(*compiler.Check) (cty.Type, hcl.Diagnostics) { return compiler.ModelType, nil }
	return []*compiler.Signature{
		{
			Name: "builtin", Family: compiler.Provider,
			Doc: "The pure-Go decoder-only model (LLaMA layout) that runs offline on CPU: from a checkpoint file, or freshly initialised from an architecture.",
			Params: []*compiler.Param{
				opt("checkpoint", cty.String, cty.NullVal(cty.String), "Path of a .safetensors checkpoint, relative to the spec."),
				opt("layers", cty.Number, cty.NumberIntVal(2), "Transformer blocks (new model)."),
				opt("dim", cty.Number, cty.NumberIntVal(64), "Model width (new model)."),
				opt("heads", cty.Number, cty.NumberIntVal(4), "Attention heads (new model)."),
				opt("hidden", cty.Number, cty.NumberIntVal(0), "SwiGLU inner width; 0 = 8/3·dim rounded (new model)."),
				opt("max_seq", cty.Number, cty.NumberIntVal(128), "Context length (new model)."),
				oneOf("positions", "rope", "Position encoding (new model): rope, or none (NoPE, for length generalisation).", "rope", "none"),
				opt("vocab", cty.String, cty.StringVal(""), "Characters of the vocabulary (new model); empty = printable ASCII and newline."),
				opt("seed", cty.Number, cty.NumberIntVal(0), "Initialisation seed (new model)."),
			},
			Result: modelResult,
		},
		{
			Name: "openai", Family: compiler.Provider,
			Doc: "Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, TGI, OpenAI). The API key is read from the environment variable named by api_key_env and never stored.",
			Params: []*compiler.Param{
				req("base_url", cty.String, "Server URL, e.g. http://127.0.0.1:8000/v1."),
				req("name", cty.String, "Model name on the server."),
				opt("revision", cty.String, cty.StringVal(""), "Pinned revision; part of the model's identity in cache keys."),
				opt("api_key_env", cty.String, cty.StringVal("OPENAI_API_KEY"), "Name of the environment variable holding the API key."),
				oneOf("api", "chat", "Endpoint: chat completions or completions.", "chat", "completions"),
				opt("concurrency", cty.Number, cty.NumberIntVal(8), "Requests in flight."),
				opt("requests_per_minute", cty.Number, cty.NumberIntVal(0), "Rate limit; 0 = none."),
				opt("tokens_per_minute", cty.Number, cty.NumberIntVal(0), "Token rate limit; 0 = none."),
				opt("timeout", cty.String, cty.StringVal("60s"), "Per-request timeout."),
				opt("max_retries", cty.Number, cty.NumberIntVal(6), "Retries per request (capped exponential backoff with jitter, honouring Retry-After)."),
			},
			Result: modelResult,
		},
		{
			Name: "command", Family: compiler.Provider,
			Doc: "An external generator process: JSONL requests on stdin, JSONL completions on stdout (docs/providers.md).",
			Params: []*compiler.Param{
				req("command", cty.List(cty.String), "The program and its arguments."),
				opt("env", cty.Map(cty.String), cty.MapValEmpty(cty.String), "Extra environment variables."),
				opt("identity", cty.String, cty.StringVal(""), "The model's identity in cache keys (e.g. a checkpoint hash)."),
				opt("timeout", cty.String, cty.StringVal("10m"), "Time limit for one batch."),
			},
			Result: modelResult,
		},
	}
}
