// Package archtest holds the architecture's dependency rules as tests: data
// flows config → plan → apply → state, the clients never import the packages
// that use them, and only the command package wires them together; the
// commands render only through their views; the small shared helpers are
// leaves. It has no code of its own.
package archtest
