//go:build tools

// Package tools pins the Alloy command this wrapper builds.
package tools

import _ "github.com/grafana/alloy"
