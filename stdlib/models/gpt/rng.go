package gpt

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// rng is a small deterministic generator (SplitMix64) of our own, so that
// initialisation, shuffling and sampling never change with the Go version.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform number in [0,1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a uniform integer in [0,n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// normal returns a standard normal deviate (Box-Muller).
func (r *rng) normal() float64 {
	u1 := r.float()
	for u1 == 0 {
		u1 = r.float()
	}
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

func (r *rng) shuffle(p []int) {
	for i := len(p) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
}

// SampleSeed is the seed of the RNG of sample i of a prompt:
// the first 8 bytes (little-endian) of
// SHA-256("ouro-gpt-sample\x00" || le64(seed) || le64(i) || prompt).
// It depends on nothing else, so batching never changes a result.
func SampleSeed(seed uint64, prompt string, i int) uint64 {
	h := sha256.New()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(i))
	h.Write([]byte("ouro-gpt-sample\x00"))
	h.Write(b[:])
	h.Write([]byte(prompt))
	return binary.LittleEndian.Uint64(h.Sum(nil)[:8])
}
