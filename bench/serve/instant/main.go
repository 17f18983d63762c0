// Command instant is an OpenAI-compatible server that answers every
// completion request at once with a fixed text: the far end of the openai
// provider's request-rate benchmark (bench/serve/run.sh). It honours n and
// counts the requests it answered (GET /count).
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
	"strconv"
	"sync/atomic"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8099", "address to listen on")
	flag.Parse()
	var count atomic.Int64
	answer := func(chat bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var q struct {
				N *int `json:"n"`
			}
			_ = json.Unmarshal(body, &q)
			n := 1
			if q.N != nil && *q.N > 0 {
				n = *q.N
			}
			count.Add(1)
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
	http.HandleFunc("POST /v1/completions", answer(false))
	http.HandleFunc("POST /v1/chat/completions", answer(true))
	http.HandleFunc("GET /count", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strconv.FormatInt(count.Load(), 10))
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
