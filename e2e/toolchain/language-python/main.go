// pulumi-language-python for the e2e: the subset of the LanguageRuntime protocol that
// `pulumi up/preview/destroy`, policy packs and `pulumi package gen-sdk` use.
//
// What it leaves out, and why that is safe here: plugin discovery
// (GetRequiredPackages answers nothing; the e2e puts every provider on PATH and turns
// off plugin acquisition), dependency installation (scripts/bootstrap.sh makes the
// virtualenvs), and code generation for Python (the e2e generates TypeScript and Go).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is stamped by scripts/toolchain.sh.
var Version = "0.0.0-dev"

// userActionableExit is the exit code pulumi-language-python-exec uses after it has
// shown the user an error of the program's own: the engine should not add a stack trace.
const userActionableExit = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execShim      string
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-python [flags] ENGINE_ADDRESS")
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	h := &host{
		engineAddress: os.Args[len(os.Args)-1],
		// The SDK's exec shim sits next to this binary, as in a Pulumi release.
		execShim: filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.EngineAddress != "" {
		h.engineAddress = req.EngineAddress
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest,
	grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return nil // scripts/bootstrap.sh installs the virtualenvs
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolve(req.Info)
	if err != nil {
		return nil, err
	}
	deps, err := tc.ListPackages(ctx, req.TransitiveDependencies)
	if err != nil {
		return nil, err
	}
	out := &pulumirpc.GetProgramDependenciesResponse{}
	for _, d := range deps {
		out.Dependencies = append(out.Dependencies, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return out, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolve(req.Info)
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: info.PythonExecutable, Version: info.PythonVersion.String()}, nil
}

// resolve finds the project's Python the way Pulumi's host does: from the runtime
// options (toolchain, virtualenv) relative to the project's root.
func resolve(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	if info == nil {
		return nil, errors.New("the engine sent no program info")
	}
	opts := toolchain.PythonOptions{Root: info.RootDirectory, ProgramDir: info.ProgramDirectory}
	if o := info.Options.AsMap(); o != nil {
		if v, ok := o["virtualenv"].(string); ok {
			opts.Virtualenv = v
			if !filepath.IsAbs(v) {
				opts.Virtualenv = filepath.Join(info.RootDirectory, v)
			}
		}
		switch o["toolchain"] {
		case "pip", nil:
			opts.Toolchain = toolchain.Pip
		default:
			return nil, fmt.Errorf("toolchain %v: this e2e host supports pip only", o["toolchain"])
		}
	}
	return toolchain.ResolveToolchain(opts)
}

// Run runs the stack program through the SDK's exec shim, with config in the
// environment variables the Python SDK reads.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := resolve(req.Info)
	if err != nil {
		return nil, err
	}
	args := []string{
		"-u", h.execShim,
		"--monitor", req.MonitorAddress,
		"--engine", h.engineAddress,
		"--project", req.Project,
		"--stack", req.Stack,
		"--pwd", req.Pwd,
		"--dry_run", strconv.FormatBool(req.DryRun),
		"--parallel", strconv.Itoa(int(req.Parallel)),
		"--organization", req.Organization,
		"--root_directory", req.Info.RootDirectory,
		req.Info.EntryPoint,
	}
	args = append(args, req.Args...)
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	if req.Config == nil {
		req.Config = map[string]string{} // the Python SDK cannot read PULUMI_CONFIG=null
	}
	config, err := json.Marshal(req.Config)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(req.ConfigSecretKeys)
	if err != nil {
		return nil, err
	}
	cmd.Dir = req.Info.ProgramDirectory
	cmd.Env = append(cmd.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
		"PULUMI_PROJECT="+req.Project,
		"PULUMI_STACK="+req.Stack,
		"PULUMI_ORGANIZATION="+req.Organization,
		"PULUMI_DRY_RUN="+strconv.FormatBool(req.DryRun),
		"PULUMI_PARALLEL="+strconv.Itoa(int(req.Parallel)),
		"PULUMI_MONITOR="+req.MonitorAddress,
		"PULUMI_ENGINE="+h.engineAddress,
	)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == userActionableExit {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a plugin written in Python (the component provider of PulumiPlugin.yaml,
// a policy pack): its entry point in the project's virtualenv, output streamed back.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest,
	srv grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	ctx := srv.Context()
	tc, err := resolve(req.Info)
	if err != nil {
		return err
	}
	entry := req.Info.EntryPoint
	if entry == "" {
		entry = "."
	}
	cmd, err := tc.Command(ctx, append([]string{"-u", entry}, req.Args...)...)
	if err != nil {
		return err
	}
	cmd.Dir = req.Info.ProgramDirectory
	cmd.Env = append(cmd.Environ(), req.Env...)
	// exec copies stdout and stderr on two goroutines; a gRPC stream takes one Send at a time.
	var mu sync.Mutex
	stdout := &streamWriter{srv: srv, mu: &mu}
	stderr := &streamWriter{srv: srv, mu: &mu, stderr: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		code = int32(exit.ExitCode())
	}
	return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

type streamWriter struct {
	srv    grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]
	mu     *sync.Mutex
	stderr bool
}

func (w *streamWriter) Write(p []byte) (int, error) {
	data := bytes.Clone(p)
	msg := &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: data}}
	if w.stderr {
		msg.Output = &pulumirpc.RunPluginResponse_Stderr{Stderr: data}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.srv.Send(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

var _ io.Writer = (*streamWriter)(nil)
