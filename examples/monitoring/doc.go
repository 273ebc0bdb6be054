// Package monitoring holds the example monitoring of offsetctl check:
// Prometheus alert rules, a systemd service and timer, Kubernetes CronJobs
// and the configuration they run (README.md). Its test parses the rules with
// Prometheus' own rule parser and loads the configuration.
package monitoring
