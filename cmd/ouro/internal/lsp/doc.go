// Package lsp is ouro's language server (`ouro lsp`): the Language Server
// Protocol over a stream (stdio), so an editor shows a spec's mistakes as
// it is typed and navigates it.
//
// It starts where an editor's buffers are: it keeps the text of every open
// document, and for a document of a spec folder it loads the whole folder
// with lang (the open buffers overlaid on the files on disk) and compiles
// it with the compiler the CLI uses, with the same registry and function
// table — so its diagnostics are `ouro validate`'s, message for message and
// range for range. Hover texts are `ouro doc`'s (given by package main),
// go-to-definition and find-references follow the compiler's own resolved
// references (compiler.Result.References), completion after `item.` the
// compiler's per-item scope (compiler.Result.ItemScope), and formatting is
// `ouro fmt` (hclwrite.Format).
//
// It stops there: it evaluates nothing the compiler does not, never reads
// data and never runs a stage. Positions are converted once, at the edge
// (position.go): hcl counts lines from 1 and gives byte offsets; LSP counts
// lines from 0 and characters in UTF-16 code units.
//
// The protocol's messages and method dispatch are github.com/tliron/glsp's
// (protocol_3_16); the JSON-RPC 2.0 connection is github.com/sourcegraph/
// jsonrpc2, the one glsp's own server runs on. Serve wires the two itself
// rather than through glsp's server package, so that tests drive the very
// same code over an in-memory pipe, and the binary does not carry that
// package's logging and websocket dependencies.
package lsp
