// Package providers implements ouro's model providers: builtin (the pure-Go
// model of stdlib/models/gpt), openai (any OpenAI-compatible server, over
// net/http) and command (an external generator
// process). Their compiler signatures live in package stdlib; docs/providers.md
// is the user reference.
package providers

import "github.com/ouroloop/ouro/runtime"

// Providers returns every standard provider implementation.
func Providers() []runtime.Provider {
	return []runtime.Provider{&Builtin{}, &OpenAI{}, &Command{}}
}
