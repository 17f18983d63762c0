// Package stdlib is ouro's standard library: the operators a spec's
// `stage`, `dataset` and `model` blocks name, and the function table of its
// expressions.
//
// For each operator it declares the signature the compiler checks (the
// parameters, their types and modes, and how the stage's result type follows
// from them); the runtime implementations and model providers join those
// signatures by name. The compiler and the runtime never import this
// package: cmd/ouro hands them its Registry, the way Terraform's core asks
// providers for their schemas through an interface.
//
// Subpackages: funcs (the HCL function library) and models/gpt (the builtin
// pure-Go model).
package stdlib
