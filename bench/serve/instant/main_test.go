package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// TestLastLuaReproducesTheRequest checks that /last.lua is a wrk script
// that sends the sampled request byte for byte: run by a Lua interpreter
// when one is installed, and compared as text always.
func TestLastLuaReproducesTheRequest(t *testing.T) {
	srv := httptest.NewServer(newServer())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/last.lua")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/last.lua before any request: %s, want 404", resp.Status)
	}

	body := "{\"prompt\":\"say \\\"hi\\\"\\n\\u00e9 é\",\"n\":2}"
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer none")
	req.Header.Set("X-Stainless-Lang", "go")
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(answer), `"index":1`) {
		t.Errorf("answer to n=2 has no second choice: %s", answer)
	}

	resp, err = http.Get(srv.URL + "/last.lua")
	if err != nil {
		t.Fatal(err)
	}
	script, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wrk.path = "/v1/completions"`,
		`wrk.headers["Authorization"] = "Bearer none"`,
		`wrk.headers["X-Multi"] = "a, b"`,
		`wrk.headers["X-Stainless-Lang"] = "go"`,
		`wrk.body = "{\"prompt\":\"say \\\"hi\\\"\\n\\u00e9 \195\169\",\"n\":2}"`,
	} {
		if !strings.Contains(string(script), want) {
			t.Errorf("script lacks %s:\n%s", want, script)
		}
	}
	if strings.Contains(string(script), "Content-Length") || strings.Contains(string(script), `"Host"`) {
		t.Errorf("script sets headers wrk writes itself:\n%s", script)
	}

	lua, err := exec.LookPath("luajit")
	if err != nil {
		if lua, err = exec.LookPath("lua5.1"); err != nil {
			t.Log("no luajit or lua5.1: the script was checked as text only")
			return
		}
	}
	prog := "wrk = { headers = {} }\n" + string(script) + "\nio.write(wrk.body)\n"
	out, err := exec.Command(lua, "-e", prog).Output()
	if err != nil {
		t.Fatalf("%s: %v", lua, err)
	}
	if string(out) != body {
		t.Errorf("the script's body is %q, want %q", out, body)
	}
}
