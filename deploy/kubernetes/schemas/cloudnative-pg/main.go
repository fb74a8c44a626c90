// Command cloudnative-pg writes the CustomResourceDefinitions of the CloudNativePG release pinned
// in go.mod into a directory, one file per CRD (<plural>.<group>.yaml), for offline validation of
// the manifests of deploy/kubernetes (see tools/kube_schemas.py).
//
// Why a Go program: the CloudNativePG Go module embeds every release manifest in its public
// releases package, so the Go module proxy (which CI reaches) serves the CRDs, and go.sum pins
// their bytes. The release used is the one of the module version in go.mod, read from the build
// information, so bumping the pin (go get ...@vX.Y.Z) is the only change an upgrade needs.
//
// Usage: go run . OUTDIR
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/cloudnative-pg/cloudnative-pg/releases"
	"go.yaml.in/yaml/v3"
)

const modulePath = "github.com/cloudnative-pg/cloudnative-pg"

// documentSeparator matches a "---" line: at column 0 it cannot be inside a block scalar of the
// top-level mapping, so splitting there keeps every document's text intact.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

type header struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

func moduleVersion() (string, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", fmt.Errorf("no build information: build this program in module mode")
	}
	for _, dep := range info.Deps {
		if dep.Path == modulePath {
			if dep.Replace != nil {
				dep = dep.Replace
			}
			return dep.Version, nil
		}
	}
	return "", fmt.Errorf("%s is not a dependency of this build", modulePath)
}

func run(outDir string) error {
	version, err := moduleVersion()
	if err != nil {
		return err
	}
	name := "cnpg-" + strings.TrimPrefix(version, "v") + ".yaml"
	manifest, err := releases.OperatorManifests.ReadFile(name)
	if err != nil {
		return fmt.Errorf("release manifest %s not embedded in %s@%s: %w", name, modulePath, version, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	written := 0
	for _, doc := range documentSeparator.Split(string(manifest), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var h header
		if err := yaml.Unmarshal([]byte(doc), &h); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if h.Kind != "CustomResourceDefinition" || !strings.HasPrefix(h.APIVersion, "apiextensions.k8s.io/") {
			continue
		}
		if h.Metadata.Name == "" || strings.ContainsAny(h.Metadata.Name, `/\`) {
			return fmt.Errorf("%s: a CustomResourceDefinition has no usable name: %q", name, h.Metadata.Name)
		}
		text := append([]byte("---\n"), bytes.TrimLeft([]byte(doc), "\n")...)
		if !bytes.HasSuffix(text, []byte("\n")) {
			text = append(text, '\n')
		}
		if err := os.WriteFile(filepath.Join(outDir, h.Metadata.Name+".yaml"), text, 0o644); err != nil {
			return err
		}
		written++
	}
	if written == 0 {
		return fmt.Errorf("%s: no CustomResourceDefinition found", name)
	}
	fmt.Printf("%d CustomResourceDefinitions of CloudNativePG %s written to %s\n", written, version, outDir)
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run . OUTDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "cloudnative-pg:", err)
		os.Exit(1)
	}
}
