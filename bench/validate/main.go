// Command validate generates large specs for the compiler benchmark
// (BenchmarkValidate1k and BenchmarkValidate10k in this directory):
//
//	go run ./bench/validate -stages 1000 > big.loop.hcl
//	go run ./cmd/ouro validate big.loop.hcl
//
// A spec is made of units of ten stages: chains of filter, map, extract,
// top, dedupe, sample and vote with per-item expressions, fan-in through
// concat of up to three earlier units, and every tenth unit a loop of three
// rounds (generate, extract, filter, map, concat, dedupe, …) whose state
// carries a dataset forward.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
)

func main() {
	stages := flag.Int("stages", 1000, "number of stage blocks (rounded up to a multiple of 10)")
	flag.Parse()
	os.Stdout.Write(Generate(*stages))
}

// Generate returns a valid spec with about n stage blocks.
func Generate(n int) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("variable \"rounds\" {\n  type    = number\n  default = 3\n}\n\n")
	w("variable \"k\" {\n  type    = number\n  default = 10\n}\n\n")
	w("locals {\n  threshold = 2\n}\n\n")
	w("model \"m\" {\n  provider = \"builtin\"\n}\n\n")
	for d := 0; d < 5; d++ {
		w("dataset \"d%d\" {\n  source = \"data/d%d.jsonl\"\n  schema = object({ question = string, answer = number, text = string })\n}\n\n", d, d)
	}
	units := (n + 9) / 10
	var tops []int // units whose last stage is a top-level dataset of the base schema
	for u := 0; u < units; u++ {
		if u%10 == 9 {
			writeLoop(w, u)
			continue
		}
		p := fmt.Sprintf("u%d_", u)
		w("stage \"filter\" \"%ss0\" {\n  input = dataset.d%d\n  where = item.answer > %d\n}\n\n", p, u%5, u%7)
		w("stage \"map\" \"%ss1\" {\n  input  = stage.%ss0\n  fields = { len = strlen(item.text), q = lower(item.question) }\n}\n\n", p, p)
		w("stage \"filter\" \"%ss2\" {\n  input = stage.%ss1\n  where = item.len > local.threshold && item.q != \"\"\n}\n\n", p, p)
		w("stage \"extract\" \"%ss3\" {\n  input   = stage.%ss2\n  from    = item.text\n  pattern = \"Answer: {a:number}[ ({unit:word})]\"\n}\n\n", p, p)
		w("stage \"filter\" \"%ss4\" {\n  input = stage.%ss3\n  where = item.parsed.a == item.answer || item.parsed.unit == \"x\"\n}\n\n", p, p)
		w("stage \"top\" \"%ss5\" {\n  input = stage.%ss4\n  by    = item.answer * 2 + item.len\n  k     = var.k\n  per   = item.question\n}\n\n", p, p)
		w("stage \"map\" \"%ss6\" {\n  input  = stage.%ss5\n  fields = {}\n  drop   = [\"len\", \"q\", \"parsed\"]\n}\n\n", p, p)
		// Fan-in: this unit and up to three earlier ones.
		ins := fmt.Sprintf("stage.%ss6", p)
		for i := 0; i < 3 && i < len(tops); i++ {
			ins += fmt.Sprintf(", stage.u%d_s9", tops[len(tops)-1-i])
		}
		w("stage \"concat\" \"%ss7\" {\n  inputs = [%s]\n}\n\n", p, ins)
		w("stage \"dedupe\" \"%ss8\" {\n  input = stage.%ss7\n  key   = item.question\n}\n\n", p, p)
		w("stage \"sample\" \"%ss9\" {\n  input = stage.%ss8\n  n     = 100\n  seed  = %d\n}\n\n", p, p, u)
		tops = append(tops, u)
	}
	if len(tops) > 0 {
		w("output \"last\" {\n  value = stage.u%d_s9\n}\n", tops[len(tops)-1])
	}
	return b.Bytes()
}

func writeLoop(w func(string, ...any), u int) {
	p := fmt.Sprintf("u%d_", u)
	w("loop \"l%d\" {\n  rounds = var.rounds\n  state  = { pool = dataset.d%d, best = 0 }\n\n", u, u%5)
	w("  stage \"generate\" \"%ss0\" {\n    model   = model.m\n    input   = state.pool\n    prompt  = \"Q: ${item.question}\\nA:\"\n    samples = 2\n  }\n\n", p)
	w("  stage \"extract\" \"%ss1\" {\n    input   = stage.%ss0\n    from    = item.completion\n    pattern = \"= {answer:number}\"\n    as      = \"got\"\n  }\n\n", p, p)
	w("  stage \"filter\" \"%ss2\" {\n    input = stage.%ss1\n    where = item.got.answer == item.answer\n  }\n\n", p, p)
	w("  stage \"map\" \"%ss3\" {\n    input  = stage.%ss2\n    fields = { text = item.completion }\n    drop   = [\"prompt\", \"completion\", \"sample\", \"finish_reason\", \"got\"]\n  }\n\n", p, p)
	w("  stage \"concat\" \"%ss4\" {\n    inputs = [state.pool, stage.%ss3]\n  }\n\n", p, p)
	w("  stage \"dedupe\" \"%ss5\" {\n    input = stage.%ss4\n    key   = item.question\n  }\n\n", p, p)
	w("  stage \"sft\" \"%ss6\" {\n    base   = model.m\n    data   = stage.%ss5\n    prompt = \"Q: ${item.question}\\nA:\"\n    target = \" ${item.text}\"\n    steps  = 10\n  }\n\n", p, p)
	w("  stage \"evaluate\" \"%ss7\" {\n    model   = stage.%ss6.model\n    input   = dataset.d%d\n    prompt  = \"Q: ${item.question}\\nA:\"\n    score   = extract_number(item.completion) == item.answer\n    metrics = { accuracy = fraction(scores) }\n  }\n\n", p, p, u%5)
	w("  stage \"sample\" \"%ss8\" {\n    input = stage.%ss5\n    n     = 50\n  }\n\n", p, p)
	w("  stage \"vote\" \"%ss9\" {\n    input  = stage.%ss8\n    group  = item.question\n    answer = item.answer\n  }\n\n", p, p)
	w("  next  = { pool = stage.%ss5, best = max(state.best, stage.%ss7.metrics.accuracy) }\n", p, p)
	w("  until = stage.%ss7.metrics.accuracy <= state.best\n}\n\n", p)
}
