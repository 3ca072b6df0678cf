// pulumi-language-nodejs for the e2e: only GeneratePackage, for `pulumi package gen-sdk
// --language nodejs` (Pulumi's own host module is not served by the module proxy).
package main

import (
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"llmplatform.e2e/language-codegen/host"
)

// Version is stamped by the build.
var Version = "0.0.0-dev"

func main() {
	host.Serve("pulumi-language-nodejs", Version, func(pkg *schema.Package, req *pulumirpc.GeneratePackageRequest,
		loader schema.ReferenceLoader,
	) (map[string][]byte, error) {
		return nodejs.GeneratePackage("pulumi-language-nodejs", pkg, req.ExtraFiles, req.LocalDependencies,
			req.Local, loader)
	})
}
