package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/importer"
)

// importFormats are the formats `respawn import` reads, in the order help lists them.
var importFormats = []string{"supervisord", "procfile", "process-compose", "pm2"}

func (g *globals) importCmd() *cobra.Command {
	var out string
	var force bool
	var procfile importer.ProcfileOptions
	cmd := &cobra.Command{
		Use:   "import FORMAT FILE",
		Short: "convert another supervisor's config into a respawn config",
		Long: `import reads FILE in FORMAT (` + strings.Join(importFormats, ", ") + `) and writes the
respawn config it amounts to, to -o FILE or else to stdout. Whatever does not
carry over unchanged is a comment on its line in the config and a line on
stderr. See docs/migrate.md for what maps to what.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, file := args[0], args[1]
			if format != "procfile" {
				for _, f := range []string{"port-base", "formation"} {
					if cmd.Flags().Changed(f) {
						return exitErr(ExitUsage, fmt.Errorf("--%s is for procfile, not %s", f, format))
					}
				}
			}
			var res *importer.Result
			var err error
			switch format {
			case "supervisord":
				res, err = importer.Supervisord(file)
			case "procfile":
				if out != "" {
					abs, err := filepath.Abs(out)
					if err != nil {
						return exitErr(ExitUsage, err)
					}
					procfile.OutDir = filepath.Dir(abs)
				}
				res, err = importer.Procfile(file, procfile)
			case "process-compose":
				res, err = importer.ProcessCompose(file)
			case "pm2":
				res, err = importer.PM2(file)
			default:
				return exitErr(ExitUsage, fmt.Errorf("unknown format %q: import reads %s", format, strings.Join(importFormats, ", ")))
			}
			if err != nil {
				return exitErr(ExitUsage, fmt.Errorf("import %s: %w", format, err))
			}
			// The output must be what `check` accepts: a config respawn
			// rejects is a fault of the import, not a result.
			if _, err := config.Parse(cmp.Or(out, "respawn.yaml"), res.YAML, g.env.LookupEnv); err != nil {
				return exitErr(ExitFailed, fmt.Errorf("the imported config is not valid, please report it: %w", err))
			}
			if out == "" {
				if _, err := cmd.OutOrStdout().Write(res.YAML); err != nil {
					return exitErr(ExitFailed, err)
				}
			} else if err := writeNew(out, res.YAML, force); err != nil {
				return err
			}
			for _, n := range res.Notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "respawn import:", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the config to this file (default stdout)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite the -o file if it exists")
	cmd.Flags().IntVar(&procfile.PortBase, "port-base", 0, "procfile: the first process type's PORT, the next +100 (default .env's PORT, else 5000)")
	cmd.Flags().StringVar(&procfile.Formation, "formation", "", "procfile: how many of each process type, as foreman's -m: web=2,worker=1 (all=N for every type)")
	return cmd
}

// writeNew writes data to path, refusing to replace an existing file unless force.
func writeNew(path string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return exitErr(ExitUsage, fmt.Errorf("%s exists: pass --force to overwrite it", path))
	}
	if err != nil {
		return exitErr(ExitFailed, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return exitErr(ExitFailed, fmt.Errorf("write %s: %w", path, err))
	}
	if err := f.Close(); err != nil {
		return exitErr(ExitFailed, fmt.Errorf("write %s: %w", path, err))
	}
	return nil
}
