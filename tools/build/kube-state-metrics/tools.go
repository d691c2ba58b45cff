//go:build tools

// Package tools pins the kube-state-metrics command this wrapper builds.
package tools

import _ "k8s.io/kube-state-metrics/v2"
