package gpt

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func smallModel(t testing.TB, seed uint64) *Model {
	t.Helper()
	m, err := New(Config{Layers: 2, Dim: 32, Heads: 4, Hidden: 64, MaxSeq: 48, Vocab: "0123456789+=abcdefgh |"}, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func save(t testing.TB, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{},
		{Layers: 1, Dim: 10, Heads: 3, MaxSeq: 8},
		{Layers: 1, Dim: 6, Heads: 2, MaxSeq: 8}, // odd head size with rope
		{Layers: 1, Dim: 8, Heads: 2, MaxSeq: 8, Positions: "alibi"},
		{Layers: 1, Dim: 8, Heads: 2, MaxSeq: 8, Vocab: "aa"},
		{Layers: 1, Dim: 8, Heads: 2, MaxSeq: 1},
	}
	for _, c := range bad {
		if _, err := New(c, 1); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
	m, err := New(Config{Layers: 1, Dim: 6, Heads: 2, MaxSeq: 8, Positions: "none"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	if c.Hidden != 16 || c.Vocab != DefaultVocab || len(DefaultVocab) != 96 {
		t.Errorf("defaults not filled: %+v", c)
	}
	if m.NumParams() != c.numParams() || m.VocabSize() != 100 {
		t.Errorf("NumParams %d, want %d", m.NumParams(), c.numParams())
	}
}

func TestDeterministicInit(t *testing.T) {
	a, b, c := smallModel(t, 7), smallModel(t, 7), smallModel(t, 8)
	if a.Digest() != b.Digest() {
		t.Error("same seed, different digest")
	}
	if a.Digest() == c.Digest() {
		t.Error("different seed, same digest")
	}
	if !strings.HasPrefix(a.Digest(), "sha256:") || len(a.Digest()) != 71 {
		t.Errorf("bad digest %q", a.Digest())
	}
}

func TestSaveLoad(t *testing.T) {
	m := smallModel(t, 1)
	data := save(t, m)
	if !bytes.Equal(data, save(t, m)) {
		t.Fatal("Save is not byte-deterministic")
	}
	m2, err := Load(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if m2.Digest() != m.Digest() || m2.Config() != m.Config() {
		t.Fatal("reloaded model differs")
	}
	for _, c := range [][2]string{{"12+34=", "46"}, {"ab", "cd|"}, {"", "h"}} {
		t1, p1, err1 := m.LogProb(c[0], c[1])
		t2, p2, err2 := m2.LogProb(c[0], c[1])
		if err1 != nil || err2 != nil || t1 != t2 || !reflect.DeepEqual(p1, p2) {
			t.Errorf("LogProb(%q,%q): %v %v vs %v %v", c[0], c[1], t1, p1, t2, p2)
		}
	}
	// The header is valid safetensors: length, JSON, 8-byte aligned.
	hl := int(data[0]) | int(data[1])<<8 | int(data[2])<<16
	if hl%8 != 0 || !bytes.HasPrefix(data[8:], []byte(`{"__metadata__":{`)) {
		t.Errorf("unexpected header %q", data[8:40])
	}
	if want := 8 + hl + 4*m.NumParams(); len(data) != want {
		t.Errorf("file is %d bytes, want %d", len(data), want)
	}
	// Truncated and corrupted files fail cleanly.
	for _, n := range []int{0, 7, 8, 20, 8 + hl, len(data) - 1} {
		if _, err := Load(bytes.NewReader(data[:n])); err == nil {
			t.Errorf("Load of %d-byte prefix succeeded", n)
		}
	}
	if _, err := Load(bytes.NewReader(append(append([]byte{}, data...), 0))); err == nil {
		t.Error("Load with a trailing byte succeeded")
	}
}

// A short file cannot make Load allocate more than a small multiple of its
// own size, whatever its header length field or its config claims.
func TestLoadAllocatesAsBytesArrive(t *testing.T) {
	var huge [8]byte
	binary.LittleEndian.PutUint64(huge[:], 1<<24) // the largest header length allowed
	big, err := New(Config{Layers: 1, Dim: 256, Heads: 2, Hidden: 256, MaxSeq: 8}, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := save(t, big)
	hl := int(binary.LittleEndian.Uint64(data))
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"header length 16 MiB, no header", huge[:]},
		{"header length 16 MiB, 1 kB of header", append(huge[:], data[8:1032]...)},
		{"header of a 2 MB model, no tensors", data[:8+hl]},
		{"header of a 2 MB model, 100 kB of tensors", data[:8+hl+100_000]},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Load(bytes.NewReader(c.data))
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: Load succeeded", c.name)
		}
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64<<10+4*len(c.data)); got > limit {
			t.Errorf("%s: Load of %d bytes allocated %d bytes (limit %d)", c.name, len(c.data), got, limit)
		}
	}
}

func TestDigestChangesIffWeightsChange(t *testing.T) {
	m := smallModel(t, 1)
	d := m.Digest()
	same := m.clone()
	if same.Digest() != d {
		t.Error("clone changed the digest")
	}
	for _, i := range []int{0, m.NumParams() / 2, m.NumParams() - 1} {
		c := m.clone()
		c.w[i] = math.Nextafter32(c.w[i], 1)
		if c.Digest() == d {
			t.Errorf("changing weight %d kept the digest", i)
		}
	}
}

func TestGenerateConsistency(t *testing.T) {
	m := smallModel(t, 3)
	ctx := context.Background()
	prompts := []string{"12+34=", "ab", "", "hhhh"}
	opts := SampleOptions{Temperature: 1, MaxTokens: 12, Seed: 42, LogProbs: true}
	all, err := m.Generate(ctx, prompts, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Each prompt alone gives the same samples: batching never matters.
	for i, p := range prompts {
		one, err := m.Generate(ctx, []string{p}, 3, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(one[0], all[i]) {
			t.Errorf("prompt %q: alone %+v, batched %+v", p, one[0], all[i])
		}
		// Sample 1 of 2 equals sample 1 of 3.
		two, _ := m.Generate(ctx, []string{p}, 2, opts)
		if !reflect.DeepEqual(two[0], all[i][:2]) {
			t.Errorf("prompt %q: n=2 differs from the first two of n=3", p)
		}
	}
	// Samples differ from each other, and log-probs agree with LogProb bit for bit.
	distinct := map[string]bool{}
	for i, p := range prompts {
		for _, c := range all[i] {
			distinct[c.Text] = true
			if c.FinishReason == "length" {
				if c.Tokens != 12 {
					t.Errorf("length finish with %d tokens", c.Tokens)
				}
				_, per, err := m.LogProb(p, c.Text)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(per, c.TokenLogProbs) {
					t.Errorf("prompt %q text %q: sampled logprobs %v, LogProb %v", p, c.Text, c.TokenLogProbs, per)
				}
			}
			var s float64
			for _, lp := range c.TokenLogProbs {
				s += lp
			}
			if math.Abs(s-c.LogProb) > 1e-9 || len(c.TokenLogProbs) != c.Tokens {
				t.Errorf("LogProb %v vs sum %v", c.LogProb, s)
			}
		}
	}
	if len(distinct) < 6 {
		t.Errorf("only %d distinct samples at temperature 1", len(distinct))
	}
	// Another seed gives other samples.
	other, _ := m.Generate(ctx, prompts, 3, SampleOptions{Temperature: 1, MaxTokens: 12, Seed: 43})
	if reflect.DeepEqual(other[0][0].Text+other[1][0].Text, all[0][0].Text+all[1][0].Text) {
		t.Error("seed does not matter")
	}
}

func TestGenerateOptions(t *testing.T) {
	m := smallModel(t, 3)
	ctx := context.Background()
	g, err := m.Generate(ctx, []string{"ab"}, 2, SampleOptions{MaxTokens: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g[0][0], g[0][1]) {
		t.Error("greedy samples differ")
	}
	// Top-k 1 is greedy whatever the temperature.
	k1, _ := m.Generate(ctx, []string{"ab"}, 1, SampleOptions{Temperature: 5, TopK: 1, MaxTokens: 5, Seed: 9})
	if k1[0][0].Text != g[0][0].Text {
		t.Errorf("top-k 1 %q, greedy %q", k1[0][0].Text, g[0][0].Text)
	}
	// Tiny top-p is greedy too.
	p1, _ := m.Generate(ctx, []string{"ab"}, 1, SampleOptions{Temperature: 1, TopP: 1e-9, MaxTokens: 5, Seed: 9})
	if p1[0][0].Text != g[0][0].Text {
		t.Errorf("top-p ~0 %q, greedy %q", p1[0][0].Text, g[0][0].Text)
	}
	// Stop strings cut the text before the match.
	long, _ := m.Generate(ctx, []string{"ab"}, 4, SampleOptions{Temperature: 1, MaxTokens: 30, Seed: 5})
	for _, c := range long[0] {
		if len(c.Text) < 3 {
			continue
		}
		stop := c.Text[1:3]
		s, _ := m.Generate(ctx, []string{"ab"}, 4, SampleOptions{Temperature: 1, MaxTokens: 30, Seed: 5, Stop: []string{"zz", stop}})
		for i, sc := range s[0] {
			if strings.Contains(sc.Text, stop) || !strings.HasPrefix(long[0][i].Text, sc.Text) {
				t.Errorf("stop %q: %q from %q", stop, sc.Text, long[0][i].Text)
			}
		}
		if s[0][0].FinishReason != "stop" || s[0][0].Text != c.Text[:strings.Index(c.Text, stop)] {
			t.Errorf("stop %q: got %+v from %q", stop, s[0][0], c.Text)
		}
		break
	}
	// max_seq bounds generation; too long prompts are an error.
	full, _ := m.Generate(ctx, []string{"ab"}, 1, SampleOptions{Temperature: 1, Seed: 1})
	if c := full[0][0]; c.FinishReason == "length" && c.Tokens != 48-3 {
		t.Errorf("length finish after %d tokens, want %d", c.Tokens, 45)
	}
	if _, err := m.Generate(ctx, []string{strings.Repeat("a", 47)}, 1, SampleOptions{}); err == nil {
		t.Error("over-long prompt accepted")
	}
	// Cancellation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Generate(cctx, []string{"ab"}, 1, SampleOptions{MaxTokens: 5}); err == nil {
		t.Error("cancelled context ignored")
	}
}

func TestTrainDeterministicAcrossCores(t *testing.T) {
	var data []SFTExample
	for i := 0; i < 40; i++ {
		data = append(data, SFTExample{Prompt: string(rune('a'+i%8)) + "+", Target: string(rune('0' + i%10))})
	}
	opts := TrainOptions{Steps: 5, BatchSize: 8, LR: 3e-3, Seed: 11, Warmup: 2}
	var digests []string
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		m, st, err := TrainSFT(context.Background(), smallModel(t, 1), data, opts)
		if err != nil {
			t.Fatal(err)
		}
		if st.Steps != 5 || len(st.Losses) != 5 {
			t.Fatalf("stats %+v", st)
		}
		digests = append(digests, m.Digest())
	}
	if digests[0] != digests[1] || digests[1] != digests[2] {
		t.Errorf("digests differ with GOMAXPROCS: %v", digests)
	}
	base := smallModel(t, 1)
	if digests[0] == base.Digest() {
		t.Error("training did not change the weights")
	}
	if _, _, err := TrainSFT(context.Background(), base, []SFTExample{{Prompt: strings.Repeat("a", 50)}}, opts); err == nil {
		t.Error("over-long example accepted")
	}
}
