//go:build tools

// Package tools pins the two commands this module builds (never compiled itself).
package tools

import (
	_ "github.com/grafana/loki/cmd/loki"
	_ "github.com/grafana/loki/cmd/promtail"
)
