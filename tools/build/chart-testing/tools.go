//go:build tools

// Wrapper module: builds chart-testing's `ct` at the version pinned in ../../versions.env.
package tools

import _ "github.com/helm/chart-testing/v3/ct"
