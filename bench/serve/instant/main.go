// Command instant is an OpenAI-compatible server that answers every
// completion request at once with a fixed text: the far end of the openai
// provider's request-rate benchmark (bench/serve/run.sh). It honours n and
// counts the requests it answered (GET /count). GET /last.lua is a wrk
// script that sends a recent completion request exactly as received: same
// path, headers and body (run.sh points wrk at it, so wrk and ouro send the
// server identical requests).
//
//	go run ./bench/serve/instant -listen 127.0.0.1:8099
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8099", "address to listen on")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*listen, newServer()))
}

// server is instant's state: the request count and a sample request.
type server struct {
	count atomic.Int64

	mu       sync.Mutex
	lastPath string
	lastHead http.Header
	lastBody []byte
}

func newServer() http.Handler {
	s := &server{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/completions", s.answer(false))
	mux.HandleFunc("POST /v1/chat/completions", s.answer(true))
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strconv.FormatInt(s.count.Load(), 10))
	})
	mux.HandleFunc("GET /last.lua", s.lastLua)
	return mux
}

func (s *server) answer(chat bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Keep every 1024th request (the first included) as the sample:
		// cloning headers on every request would slow the server down.
		if s.count.Load()%1024 == 0 {
			s.mu.Lock()
			s.lastPath, s.lastHead, s.lastBody = r.URL.Path, r.Header.Clone(), body
			s.mu.Unlock()
		}
		var q struct {
			N *int `json:"n"`
		}
		_ = json.Unmarshal(body, &q)
		n := 1
		if q.N != nil && *q.N > 0 {
			n = *q.N
		}
		s.count.Add(1)
		w.Header().Set("Content-Type", "application/json")
		obj := "text_completion"
		if chat {
			obj = "chat.completion"
		}
		fmt.Fprintf(w, `{"id":"x","object":%q,"created":0,"model":"instant","choices":[`, obj)
		for i := 0; i < n; i++ {
			if i > 0 {
				io.WriteString(w, ",")
			}
			if chat {
				fmt.Fprintf(w, `{"index":%d,"message":{"role":"assistant","content":"42"},"logprobs":null,"finish_reason":"stop"}`, i)
			} else {
				fmt.Fprintf(w, `{"index":%d,"text":"42","logprobs":null,"finish_reason":"stop"}`, i)
			}
		}
		io.WriteString(w, `],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}
}

// lastLua writes the sample request as a wrk script. Strings are written
// as Lua literals (quotes, backslashes and control bytes escaped as \ddd).
func (s *server) lastLua(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastHead == nil {
		http.Error(w, "no completion request yet", http.StatusNotFound)
		return
	}
	fmt.Fprintf(w, "-- a completion request instant received, as sent\n")
	fmt.Fprintf(w, "wrk.method = \"POST\"\nwrk.path = %s\n", luaString(s.lastPath))
	keys := make([]string, 0, len(s.lastHead))
	for k := range s.lastHead {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "Content-Length" || k == "Host" {
			continue // wrk writes these itself
		}
		fmt.Fprintf(w, "wrk.headers[%s] = %s\n", luaString(k), luaString(strings.Join(s.lastHead[k], ", ")))
	}
	fmt.Fprintf(w, "wrk.body = %s\n", luaString(string(s.lastBody)))
}

// luaString quotes s as a Lua 5.1 string literal, byte for byte.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
