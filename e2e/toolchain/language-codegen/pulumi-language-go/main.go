// pulumi-language-go for the e2e: only GeneratePackage, for `pulumi package gen-sdk
// --language go` (Pulumi's own host module is not served by the module proxy).
package main

import (
	"errors"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"llmplatform.e2e/language-codegen/host"
)

// Version is stamped by the build.
var Version = "0.0.0-dev"

func main() {
	host.Serve("pulumi-language-go", Version, func(pkg *schema.Package, req *pulumirpc.GeneratePackageRequest,
		_ schema.ReferenceLoader,
	) (map[string][]byte, error) {
		if len(req.ExtraFiles) > 0 {
			return nil, errors.New("overlays are not supported for Go")
		}
		return gogen.GeneratePackage("pulumi-language-go", pkg, req.LocalDependencies)
	})
}
