package gpt

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// streamed runs GenerateStream and checks the chunk protocol: a sample at
// most once per call, nothing after its Done chunk. It returns the result
// and the chunks of each sample.
func streamed(t *testing.T, m *Model, prompts []string, n int, opts SampleOptions) ([][]Completion, map[[2]int][]Chunk) {
	t.Helper()
	got := map[[2]int][]Chunk{}
	res, err := m.GenerateStream(context.Background(), prompts, n, opts, func(cs []Chunk) error {
		if len(cs) == 0 {
			t.Error("empty emit")
		}
		seen := map[[2]int]bool{}
		for _, c := range cs {
			k := [2]int{c.Prompt, c.Index}
			if seen[k] {
				t.Errorf("sample %v twice in one step", k)
			}
			seen[k] = true
			if prev := got[k]; len(prev) > 0 && prev[len(prev)-1].Done != nil {
				t.Errorf("sample %v: chunk after Done", k)
			}
			got[k] = append(got[k], c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, got
}

// TestGenerateStream: streaming gives Generate's completions, and the
// chunks of a sample add up to its completion, stop strings held back.
func TestGenerateStream(t *testing.T) {
	m := smallModel(t, 3)
	ctx := context.Background()
	base := SampleOptions{Temperature: 1, MaxTokens: 30, Seed: 5, LogProbs: true}
	long, err := m.Generate(ctx, []string{"ab", "1+"}, 3, base)
	if err != nil {
		t.Fatal(err)
	}
	// Stop strings that occur in the samples, and ones that share their
	// beginnings with the text without matching.
	var stops []string
	for _, cs := range long {
		for _, c := range cs {
			if len(c.Text) >= 6 {
				stops = append(stops, c.Text[3:6], c.Text[2:4]+"|||")
			}
		}
	}
	for _, o := range []SampleOptions{
		base,
		{MaxTokens: 10, Seed: 1},           // greedy
		{Temperature: 1, TopK: 5, Seed: 9}, // up to max_seq
		{Temperature: 0.8, TopP: 0.9, MaxTokens: 25, Seed: 2, Stop: stops, LogProbs: true},
		{Temperature: 1, MaxTokens: 30, Seed: 5, Stop: []string{"", "a", "zzzz"}},
	} {
		want, err := m.Generate(ctx, []string{"ab", "1+", ""}, 3, o)
		if err != nil {
			t.Fatal(err)
		}
		res, got := streamed(t, m, []string{"ab", "1+", ""}, 3, o)
		if !reflect.DeepEqual(res, want) {
			t.Fatalf("%+v: GenerateStream %+v, Generate %+v", o, res, want)
		}
		for p := range want {
			for i, w := range want[p] {
				cs := got[[2]int{p, i}]
				var text strings.Builder
				var lps []float64
				for _, c := range cs {
					text.WriteString(c.Text)
					lps = append(lps, c.TokenLogProbs...)
				}
				if len(cs) == 0 || cs[len(cs)-1].Done == nil || !reflect.DeepEqual(*cs[len(cs)-1].Done, w) {
					t.Errorf("%+v sample %d/%d: no Done chunk with the completion", o, p, i)
					continue
				}
				if text.String() != w.Text || !reflect.DeepEqual(lps, w.TokenLogProbs) {
					t.Errorf("%+v sample %d/%d: chunks %q %v, completion %q %v", o, p, i, text.String(), lps, w.Text, w.TokenLogProbs)
				}
				if len(o.Stop) == 0 && len(cs) != w.Tokens {
					t.Errorf("%+v sample %d/%d: %d chunks for %d tokens, want one per token", o, p, i, len(cs), w.Tokens)
				}
			}
		}
	}
	// More samples than one decoding group: chunks name the right prompt.
	prompts := []string{"a", "b", "c", "d"}
	o := SampleOptions{Temperature: 1, MaxTokens: 4, Seed: 3}
	want, _ := m.Generate(ctx, prompts, 30, o)
	res, got := streamed(t, m, prompts, 30, o)
	if !reflect.DeepEqual(res, want) {
		t.Fatal("groups: GenerateStream differs from Generate")
	}
	for k, cs := range got {
		if !reflect.DeepEqual(*cs[len(cs)-1].Done, want[k[0]][k[1]]) {
			t.Fatalf("groups: sample %v: %+v, want %+v", k, *cs[len(cs)-1].Done, want[k[0]][k[1]])
		}
	}
}

// TestGenerateStreamHoldBack: text that could begin a stop string is
// released as soon as it cannot.
func TestGenerateStreamHoldBack(t *testing.T) {
	m := smallModel(t, 3)
	o := SampleOptions{Temperature: 1, MaxTokens: 30, Seed: 5}
	plain, _ := streamed(t, m, []string{"ab"}, 1, o)
	text := plain[0][0].Text
	if len(text) < 8 {
		t.Fatalf("sample too short: %q", text)
	}
	// A stop string that begins like text[2:] and then differs: text[2:5]
	// is held back until the token after it, then released.
	o.Stop = []string{text[2:5] + "\x00"}
	res, got := streamed(t, m, []string{"ab"}, 1, o)
	if res[0][0].Text != text {
		t.Fatalf("%q, want %q", res[0][0].Text, text)
	}
	var released []string
	acc := ""
	for _, c := range got[[2]int{0, 0}] {
		acc += c.Text
		released = append(released, acc)
	}
	// After token L (not the last), text[:L] is generated and all of it is
	// released but its longest end that begins the stop string.
	held := func(s string) int {
		for k := len(o.Stop[0]) - 1; k > 0; k-- {
			if strings.HasSuffix(s, o.Stop[0][:k]) {
				return k
			}
		}
		return 0
	}
	var want []string
	rs := []rune(text) // a token per character
	last := len(rs)
	if plain[0][0].FinishReason == "length" {
		last-- // the last token ends the sample
	}
	prev := ""
	for L := 1; L <= last; L++ {
		gen := string(rs[:L])
		if r := gen[:len(gen)-held(gen)]; len(r) > len(prev) {
			want = append(want, r)
			prev = r
		}
	}
	want = append(want, text)
	if !reflect.DeepEqual(released, want) {
		t.Errorf("releases %q, want %q", released, want)
	}
	if held(text[:5]) < 3 || !strings.Contains(text[:5], text[2:5]) || strings.Contains(strings.Join(released, "|"), text[:3]+"|") {
		t.Errorf("%q held back too little", text[2:5])
	}

	for _, c := range []struct {
		text string
		stop []string
		want int
	}{
		{"abc", nil, 0},
		{"abc", []string{"cd"}, 1},
		{"abc", []string{"bcd", "cd"}, 2},
		{"abc", []string{"abc"}, 0}, // a whole match is the generator's business
		{"abc", []string{"xabcd"}, 0},
		{"ab", []string{"abcd"}, 2},
		{"", []string{"abcd"}, 0},
		{"aaa", []string{"aab"}, 2},
	} {
		if got := stopPrefix(c.text, c.stop); got != c.want {
			t.Errorf("stopPrefix(%q, %q) = %d, want %d", c.text, c.stop, got, c.want)
		}
	}
	// The incremental tables agree with the definition, fed any way.
	r := newRNG(1)
	for range 2000 {
		word := func(n int) string {
			b := make([]byte, int(r.float()*float64(n)))
			for i := range b {
				b[i] = "ab"[int(r.float()*2)]
			}
			return string(b)
		}
		text, stops := word(12), []string{word(6), word(6), word(3)}
		tab := newStopTable(stops)
		state := make([]int, len(tab.stops))
		for i := 0; i < len(text); {
			j := min(len(text), i+1+int(r.float()*3))
			if got, want := tab.advance(state, text[i:j]), stopPrefix(text[:j], stops); got != want {
				t.Fatalf("text %q stops %q: held %d, want %d", text[:j], stops, got, want)
			}
			i = j
		}
	}
}

// stopPrefix is the definition: the length of the longest end of text
// that is a proper beginning of one of the stop strings.
func stopPrefix(text string, stop []string) int {
	h := 0
	for _, st := range stop {
		for k := min(len(st)-1, len(text)); k > h; k-- {
			if text[len(text)-k:] == st[:k] {
				h = k
				break
			}
		}
	}
	return h
}

// TestGenerateStreamStops: an emit error or a cancellation in emit stops
// generation.
func TestGenerateStreamStops(t *testing.T) {
	m := smallModel(t, 3)
	o := SampleOptions{Temperature: 1, MaxTokens: 30, Seed: 5}
	boom := errors.New("boom")
	calls := 0
	_, err := m.GenerateStream(context.Background(), []string{"ab"}, 2, o, func([]Chunk) error {
		calls++
		return boom
	})
	if err != boom || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	_, err = m.GenerateStream(ctx, []string{"ab"}, 2, o, func([]Chunk) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
}
