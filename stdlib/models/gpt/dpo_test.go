package gpt

import (
	"context"
	"testing"
)

// TestDPOLearnsPreference: after SFT on both answers equally, DPO on pairs
// preferring the reversed string must make the policy prefer it on held-out
// strings (and the reference must not).
func TestDPOLearnsPreference(t *testing.T) {
	ctx := context.Background()
	var sft []SFTExample
	var pairs []DPOPair
	var test []DPOPair
	for i, ex := range copyReverseData(1200, 4, 5) {
		if ex.Prompt[0] != 'c' || len(ex.Target) < 2 {
			continue
		}
		s := ex.Target
		b := []byte(s)
		for x, y := 0, len(b)-1; x < y; x, y = x+1, y-1 {
			b[x], b[y] = b[y], b[x]
		}
		if string(b) == s {
			continue
		}
		p := DPOPair{Prompt: "x:" + s + "|", Chosen: string(b), Rejected: s}
		if i%5 == 0 {
			test = append(test, p)
			continue
		}
		pairs = append(pairs, p)
		sft = append(sft, SFTExample{Prompt: p.Prompt, Target: p.Chosen}, SFTExample{Prompt: p.Prompt, Target: p.Rejected})
	}
	base, err := New(Config{Layers: 2, Dim: 32, Heads: 4, Hidden: 64, MaxSeq: 16, Vocab: "abcdefghx:|"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := TrainSFT(ctx, base, sft, TrainOptions{Steps: 300, BatchSize: 32, LR: 3e-3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	pol, st, err := TrainDPO(ctx, ref, ref, pairs, TrainOptions{Steps: 150, BatchSize: 16, LR: 1e-3, Beta: 0.1, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	prefers := func(m *Model) float64 {
		n := 0
		for _, p := range test {
			c, _, err1 := m.LogProb(p.Prompt, p.Chosen)
			r, _, err2 := m.LogProb(p.Prompt, p.Rejected)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if c > r {
				n++
			}
		}
		return float64(n) / float64(len(test))
	}
	before, after := prefers(ref), prefers(pol)
	t.Logf("held-out preference for chosen: reference %.2f, policy %.2f; train reward accuracy %.2f, margin %.2f, loss %.3f -> %.3f",
		before, after, st.RewardAccuracy, st.RewardMargin, st.Losses[0], st.FinalLoss)
	if after < 0.9 || after < before+0.2 {
		t.Errorf("DPO did not learn the preference: %.2f -> %.2f", before, after)
	}
	if st.Losses[0] < 0.69 || st.Losses[0] > 0.7 { // policy == reference at step 0: loss = log 2
		t.Errorf("first DPO loss %.4f, want log 2", st.Losses[0])
	}
	if _, _, err := TrainDPO(ctx, ref, base, []DPOPair{}, TrainOptions{Steps: 1}); err == nil {
		t.Error("empty DPO data accepted")
	}
	other, _ := New(Config{Layers: 1, Dim: 32, Heads: 4, Hidden: 64, MaxSeq: 16, Vocab: "abcdefghx:|"}, 3)
	if _, _, err := TrainDPO(ctx, ref, other, pairs, TrainOptions{Steps: 1}); err == nil {
		t.Error("mismatched reference accepted")
	}
}
