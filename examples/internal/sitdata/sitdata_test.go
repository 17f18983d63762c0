package sitdata

import "testing"

// TestFramed: the package doc's example, 457+683 = 1140 at offset 2.
func TestFramed(t *testing.T) {
	q, ans := Framed([]int{7, 5, 4}, []int{3, 8, 6}, 2)
	if q != "0075400000+0038600000=" || ans != "00041100000" {
		t.Errorf("Framed = %q, %q", q, ans)
	}
}

// TestFilesSizes: the row counts the package doc states; the bytes are
// checked against the committed files by package examples.
func TestFilesSizes(t *testing.T) {
	want := map[string]int{"data/labeled.jsonl": 35000, "data/unlabeled.jsonl": 50000, "data/test.jsonl": 5000}
	files := Files()
	if len(files) != len(want) {
		t.Fatalf("%d files, want %d", len(files), len(want))
	}
	for i, f := range files {
		if f.Path != Paths()[i] {
			t.Errorf("file %d is %s, Paths says %s", i, f.Path, Paths()[i])
		}
		if n, ok := want[f.Path]; !ok || len(f.Rows) != n {
			t.Errorf("%s: %d rows, want %d", f.Path, len(f.Rows), n)
		}
	}
}
