package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/apparentlymart/go-textseg/v15/textseg"
	"github.com/hashicorp/hcl/v2"
	wordwrap "github.com/mitchellh/go-wordwrap"
	"github.com/zclconf/go-cty/cty"
)

// writeDiagnostics prints diags as text: the severity and summary, the
// position as file:line:col (the form editors and terminals link), the
// source lines with the subject marked by carets (and underlined on a colour
// terminal), the values of the variables the expression used, and the
// detail wrapped at 100 columns. Colour only on a terminal without NO_COLOR.
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	color := isTerminal(w) && os.Getenv("NO_COLOR") == ""
	dw := diagnosticWriter{w: w, files: files, width: 100, color: color}
	for _, d := range diags {
		dw.write(d)
	}
}

type diagnosticWriter struct {
	w     io.Writer
	files map[string]*hcl.File
	width uint
	color bool
}

// position is the file:line:col of a range's start, the form --json's
// "range" carries too.
func position(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func (dw diagnosticWriter) write(d *hcl.Diagnostic) {
	var severity, on, off, mark string
	switch d.Severity {
	case hcl.DiagError:
		severity = "Error"
		on = "\x1b[31m"
	case hcl.DiagWarning:
		severity = "Warning"
		on = "\x1b[33m"
	default:
		severity = "Note"
	}
	if dw.color {
		off, mark = "\x1b[0m", "\x1b[1;4m"
	} else {
		on = ""
	}
	fmt.Fprintf(dw.w, "%s%s%s: %s\n\n", on, severity, off, d.Summary)
	if d.Subject != nil {
		dw.snippet(d, mark, off)
		dw.values(d)
	}
	if d.Detail != "" {
		detail := d.Detail
		if dw.width > 0 {
			detail = wordwrap.WrapString(detail, dw.width)
		}
		fmt.Fprintf(dw.w, "%s\n\n", detail)
	}
}

// snippet prints the location line and the source lines of the subject (and
// its context), with carets under a subject that sits on one line.
func (dw diagnosticWriter) snippet(d *hcl.Diagnostic, mark, off string) {
	subject := *d.Subject
	file := dw.files[subject.Filename]
	if file == nil || file.Bytes == nil {
		fmt.Fprintf(dw.w, "  on %s:\n  (source code not available)\n\n", position(subject))
		return
	}
	where := ""
	if nav, ok := file.Nav.(interface{ ContextString(int) string }); ok {
		if s := nav.ContextString(subject.Start.Byte); s != "" {
			where = ", in " + s
		}
	}
	fmt.Fprintf(dw.w, "  on %s%s:\n", position(subject), where)

	highlight := subject
	if highlight.Empty() {
		// An empty range cannot be shown; widen it to one character.
		highlight.End.Byte++
		highlight.End.Column++
	}
	shown := highlight
	if d.Context != nil {
		shown = hcl.RangeOver(shown, *d.Context)
	}
	src := file.Bytes
	sc := hcl.NewRangeScanner(src, subject.Filename, bufio.ScanLines)
	for sc.Scan() {
		line := sc.Range()
		if !line.Overlaps(shown) {
			continue
		}
		before, marked, after := line.PartitionAround(highlight)
		if marked.Empty() {
			fmt.Fprintf(dw.w, "%4d: %s\n", line.Start.Line, sc.Bytes())
			continue
		}
		b, m := before.SliceBytes(src), marked.SliceBytes(src)
		fmt.Fprintf(dw.w, "%4d: %s%s%s%s%s\n", line.Start.Line, b, mark, m, off, after.SliceBytes(src))
		if highlight.Start.Line == highlight.End.Line {
			fmt.Fprintf(dw.w, "      %s%s\n", indentLike(b), strings.Repeat("^", max(1, displayWidth(m))))
		}
	}
	fmt.Fprintln(dw.w)
}

// values prints "with var.x as 3," lines for the variables an evaluated
// expression read, as Terraform does, so a message about one of several
// evaluations says which one.
func (dw diagnosticWriter) values(d *hcl.Diagnostic) {
	if d.Expression == nil || d.EvalContext == nil {
		return
	}
	var stmts []string
	seen := map[string]bool{}
	for _, t := range d.Expression.Variables() {
		v, diags := t.TraverseAbs(d.EvalContext)
		if diags.HasErrors() || !v.IsKnown() || v.IsMarked() {
			continue
		}
		name := traversalString(t)
		if seen[name] {
			continue
		}
		seen[name] = true
		if v.IsNull() {
			stmts = append(stmts, name+" set to null")
		} else {
			stmts = append(stmts, name+" as "+valueSummary(v))
		}
	}
	sort.Strings(stmts)
	for i, s := range stmts {
		lead, end := "     ", ",\n"
		if i == 0 {
			lead = "with "
		}
		if i == len(stmts)-1 {
			end = ".\n\n"
		}
		fmt.Fprint(dw.w, lead, s, end)
	}
}

func traversalString(t hcl.Traversal) string {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type().IsPrimitiveType() {
				b.WriteString("[" + valueSummary(s.Key) + "]")
			} else {
				b.WriteString("[...]")
			}
		}
	}
	return b.String()
}

func valueSummary(v cty.Value) string {
	t := v.Type()
	switch {
	case v.IsNull():
		return "null"
	case t == cty.Bool:
		return fmt.Sprint(v.True())
	case t == cty.Number:
		return v.AsBigFloat().Text('g', 10)
	case t == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case t.IsCollectionType() || t.IsTupleType():
		switch n := v.LengthInt(); n {
		case 0:
			return "empty " + t.FriendlyName()
		case 1:
			return t.FriendlyName() + " with 1 element"
		default:
			return fmt.Sprintf("%s with %d elements", t.FriendlyName(), n)
		}
	case t.IsObjectType():
		return fmt.Sprintf("object with %d attributes", len(t.AttributeTypes()))
	}
	return t.FriendlyName()
}

// indentLike returns blanks as wide as prefix on screen, keeping its tabs so
// the carets line up under tab-indented source.
func indentLike(prefix []byte) string {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(prefix))
	sc.Split(textseg.ScanGraphemeClusters)
	for sc.Scan() {
		if sc.Text() == "\t" {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// displayWidth counts grapheme clusters, a close enough measure of terminal
// columns for source text.
func displayWidth(b []byte) int {
	n, _ := textseg.TokenCount(b, textseg.ScanGraphemeClusters)
	return n
}
