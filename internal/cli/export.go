package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/exporter"
	"github.com/respawn-sh/respawn/internal/lazy"
)

// exporters are the formats of `respawn export`, each with whether it
// needs --image and whether it takes --json.
var exporters = &lazy.Value[map[string]exportFormat]{Build: func() map[string]exportFormat {
	return map[string]exportFormat{
		"systemd":    {run: exporter.Systemd},
		"compose":    {run: exporter.Compose, needImage: true},
		"nomad":      {run: exporter.Nomad},
		"kubernetes": {run: exporter.Kubernetes, needImage: true, takesJSON: true},
	}
}}

type exportFormat struct {
	run       func(*config.Config, exporter.Options) (exporter.Result, error)
	needImage bool
	takesJSON bool
}

func (g *globals) exportCmd() *cobra.Command {
	var dir, image string
	var force, asJSON bool
	formats := sortedFormats()
	cmd := &cobra.Command{
		Use:   "export FORMAT [-o DIR] [--force] [--image IMAGE] [--json]",
		Short: "write the services as another engine's definitions (" + strings.Join(formats, ", ") + ")",
		Long: `export converts the config into definitions for another engine, for when
the services outgrow one machine. What the target cannot express is listed on
stderr, one line each: nothing is dropped without a word. Without -o the files
go to stdout, each after a "# FILE: NAME" line when there are several.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, ok := exporters.Get()[args[0]]
			if !ok {
				return exitErr(ExitUsage, fmt.Errorf("unknown export format %q (one of %s)", args[0], strings.Join(formats, ", ")))
			}
			switch {
			case f.needImage && image == "":
				return exitErr(ExitUsage, fmt.Errorf("%s needs --image: respawn does not build images", args[0]))
			case !f.needImage && image != "":
				return exitErr(ExitUsage, fmt.Errorf("--image does not apply to %s", args[0]))
			case asJSON && !f.takesJSON:
				return exitErr(ExitUsage, fmt.Errorf("--json does not apply to %s", args[0]))
			case force && dir == "":
				return exitErr(ExitUsage, errors.New("--force needs -o DIR"))
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			opt := exporter.DefaultOptions()
			opt.Image, opt.JSON = image, asJSON
			res, err := f.run(cfg, opt)
			if err != nil {
				return exitErr(ExitFailed, err)
			}
			for _, n := range res.Notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "respawn: not carried over:", n)
			}
			if dir == "" {
				out := cmd.OutOrStdout()
				for _, file := range res.Files {
					if len(res.Files) > 1 {
						fmt.Fprintf(out, "# FILE: %s\n", file.Name)
					}
					if _, err := out.Write(file.Data); err != nil {
						return exitErr(ExitFailed, err)
					}
				}
				return nil
			}
			return writeExport(dir, res.Files, force, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&dir, "output", "o", "", "write the files into this directory (created if missing)")
	cmd.Flags().BoolVar(&force, "force", false, "with -o: replace files that exist")
	cmd.Flags().StringVar(&image, "image", "", "the container image to run each service in (compose, kubernetes)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "kubernetes: one JSON List instead of YAML documents")
	return cmd
}

func sortedFormats() []string {
	var out []string
	for name := range exporters.Get() {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// writeExport writes files into dir. Unless force, it refuses before
// writing anything when one of them exists, so an export never half
// replaces an earlier one.
func writeExport(dir string, files []exporter.File, force bool, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return exitErr(ExitFailed, fmt.Errorf("create %s: %w", dir, err))
	}
	if !force {
		for _, f := range files {
			p := filepath.Join(dir, f.Name)
			if _, err := os.Lstat(p); err == nil {
				return exitErr(ExitUsage, fmt.Errorf("%s exists (--force replaces it)", p))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return exitErr(ExitFailed, err)
			}
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return exitErr(ExitFailed, fmt.Errorf("write %s: %w", p, err))
		}
		fmt.Fprintln(out, "wrote", p)
	}
	return nil
}
