//go:build !offsetctl_testhooks

package command

import "github.com/offsetctl/offsetctl/pkg/apply"

// stopHook is nil in every build but the tests' (build tag
// offsetctl_testhooks, stophook_testhooks.go): a released offsetctl reads
// no hook from its environment.
func stopHook() func(apply.Point) error { return nil }
