package gpt

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ardanlabs/jinja"
	gguf "github.com/gpustack/gguf-parser-go"
)

var chatTemplates = []string{
	"Q: {user}\nA:",
	"{system}\n\nUser: {user}\nAssistant:",
	"{user}",
	`say 'it' "twice" \ {user} {not a slot} {{ user }} {% x %} é`,
	"\t{user}\n=",
}

// The Jinja form of a chat template, rendered by an independent Jinja
// engine the way transformers' apply_chat_template renders it (bos_token
// given, special tokens not added again), is BOS plus what ouro serve
// renders for the same messages.
func TestJinjaChatTemplateRendersAsServe(t *testing.T) {
	convs := []struct {
		name string
		msgs []map[string]any
	}{
		{"user", []map[string]any{{"role": "user", "content": "12+30"}}},
		{"system and user", []map[string]any{{"role": "system", "content": "be brief"}, {"role": "user", "content": "it's {system} \\n"}}},
		{"developer", []map[string]any{{"role": "developer", "content": "d"}, {"role": "user", "content": "line\nbreak"}}},
	}
	for _, tmpl := range chatTemplates {
		j, err := jinja.Compile(JinjaChatTemplate(tmpl))
		if err != nil {
			t.Fatalf("%q: compile %s: %v", tmpl, JinjaChatTemplate(tmpl), err)
		}
		for _, c := range convs {
			var user, system string
			msgs := make([]any, len(c.msgs))
			for i, m := range c.msgs {
				msgs[i] = m
				if m["role"] == "user" {
					user = m["content"].(string)
				} else {
					system = m["content"].(string)
				}
			}
			got, err := j.Render(map[string]any{"messages": msgs, "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": true})
			if err != nil {
				t.Fatalf("%q %s: render: %v", tmpl, c.name, err)
			}
			if want := "<s>" + RenderChat(tmpl, user, system); got != want {
				t.Errorf("%q %s:\n got %q\nwant %q", tmpl, c.name, got, want)
			}
		}
	}
	if JinjaChatTemplate("") != "" {
		t.Error(`JinjaChatTemplate("") is not ""`)
	}
}

func TestChatTemplateSavedWithCheckpoint(t *testing.T) {
	m, err := New(Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 32}, 3)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := m.Save(&plain); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain.Bytes(), []byte("chat_template")) {
		t.Fatal("a checkpoint without a template mentions chat_template")
	}
	mc, err := m.WithChatTemplate("Q: {user}\nA:")
	if err != nil {
		t.Fatal(err)
	}
	if mc.Digest() == m.Digest() || m.ChatTemplate() != "" {
		t.Fatalf("digests %s %s, original's template %q", mc.Digest(), m.Digest(), m.ChatTemplate())
	}
	var b bytes.Buffer
	if err := mc.Save(&b); err != nil {
		t.Fatal(err)
	}
	back, err := Load(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if back.ChatTemplate() != "Q: {user}\nA:" || back.Digest() != mc.Digest() {
		t.Errorf("loaded template %q digest %s, want %s", back.ChatTemplate(), back.Digest(), mc.Digest())
	}
	if c := back.clone(); c.ChatTemplate() != back.ChatTemplate() {
		t.Errorf("a trained copy lost the template: %q", c.ChatTemplate())
	}
	removed, _ := mc.WithChatTemplate("")
	if removed.Digest() != m.Digest() {
		t.Error("removing the template does not give the original checkpoint back")
	}
	for _, bad := range []string{"no slot", "{user}{user}", "{user}{system}{system}", "{user}\r\n", "{user}\x00"} {
		if _, err := m.WithChatTemplate(bad); err == nil {
			t.Errorf("WithChatTemplate(%q) accepted", bad)
		}
		// A checkpoint written with such a template (not through
		// WithChatTemplate) is refused on load.
		hacked := m.clone()
		hacked.chat = bad
		var hb bytes.Buffer
		if err := hacked.Save(&hb); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(&hb); err == nil || !strings.Contains(err.Error(), "chat_template") {
			t.Errorf("Load with chat_template %q: %v", bad, err)
		}
	}
}

// The exports carry the template where servers look for it: GGUF's
// tokenizer.chat_template (read back by gguf-parser-go) and the Hugging
// Face tokenizer_config.json's chat_template; without one, neither key.
func TestExportsCarryChatTemplate(t *testing.T) {
	m, err := New(Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 32}, 3)
	if err != nil {
		t.Fatal(err)
	}
	mc, _ := m.WithChatTemplate("Q: {user}\nA:")
	for _, c := range []struct {
		m    *Model
		want string
	}{{m, ""}, {mc, JinjaChatTemplate("Q: {user}\nA:")}} {
		gf, err := gguf.ParseGGUFFile(writeGGUFFile(t, c.m))
		if err != nil {
			t.Fatal(err)
		}
		kv, ok := gf.Header.MetadataKV.Get("tokenizer.chat_template")
		switch {
		case c.want == "" && ok:
			t.Errorf("GGUF without a template has tokenizer.chat_template %q", kv.ValueString())
		case c.want != "" && (!ok || kv.ValueString() != strings.TrimSpace(c.want)):
			t.Errorf("GGUF tokenizer.chat_template = %q (%v), want %q", kv.ValueString(), ok, c.want)
		}
		dir := t.TempDir()
		if err := c.m.WriteHF(dir); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		got, _ := cfg["chat_template"].(string)
		if got != c.want {
			t.Errorf("tokenizer_config.json chat_template = %q, want %q", got, c.want)
		}
	}
}
