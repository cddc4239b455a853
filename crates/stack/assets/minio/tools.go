//go:build tools

// Package tools pins the command this module builds (never compiled itself).
package tools

import _ "github.com/minio/minio"
