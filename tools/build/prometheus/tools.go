//go:build tools

// Package tools pins the Prometheus command this wrapper builds.
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
