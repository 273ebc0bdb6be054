// Package archtest holds the architecture's rules as tests: data flows
// config → plan → apply → state, the clients never import the packages that
// use them, and only the command package wires them together (package
// dependencies, go list -deps); plan does not execute and apply does not
// plan (the functions each package calls, type-checked from the go
// command's export data: plan reads offsets through the store's Reader and
// never writes, apply never computes, verifies or builds a plan); the
// commands render only through their views; the small shared helpers are
// leaves. It has no code of its own.
package archtest
