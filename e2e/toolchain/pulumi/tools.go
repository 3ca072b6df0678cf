//go:build tools

// The program this module builds; the import keeps it in go.mod.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
