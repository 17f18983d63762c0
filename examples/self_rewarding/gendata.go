//go:build ignore

// This example trains and tests on the 2-digit addition problems that
// examples/gendata writes (shared with the other arithmetic examples):
//
//	go generate gendata.go
package main

//go:generate go run ../gendata
