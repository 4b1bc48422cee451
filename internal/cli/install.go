package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/bootinstall"
)

// installFlags are what install and uninstall share.
type installFlags struct {
	systemd, launchd, rcd, cron, user bool
}

func (f *installFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.systemd, "systemd", false, "a systemd unit (default on Linux)")
	cmd.Flags().BoolVar(&f.launchd, "launchd", false, "a launchd plist (default on macOS)")
	cmd.Flags().BoolVar(&f.rcd, "rcd", false, "a FreeBSD rc.d script run by daemon(8) (default on FreeBSD; needs root)")
	cmd.Flags().BoolVar(&f.cron, "cron", false, "crontab lines: @reboot plus a check every 5 minutes (default elsewhere)")
	cmd.Flags().BoolVar(&f.user, "user", false, "for the calling user instead of system-wide")
	cmd.MarkFlagsMutuallyExclusive("systemd", "launchd", "rcd", "cron")
}

func (f *installFlags) method() bootinstall.Method {
	switch {
	case f.systemd:
		return bootinstall.Systemd
	case f.launchd:
		return bootinstall.Launchd
	case f.rcd:
		return bootinstall.RCD
	case f.cron:
		return bootinstall.Cron
	default:
		return bootinstall.DefaultMethod()
	}
}

// target describes this binary running this config. The config is loaded
// only to install (a broken one must not be set to start at boot, and its
// stop timeouts size the unit's); uninstall needs nothing but its path.
func (g *globals) target(f *installFlags, load bool) (bootinstall.Target, error) {
	bin, err := os.Executable()
	if err != nil {
		return bootinstall.Target{}, exitErr(ExitFailed, fmt.Errorf("locate the respawn binary: %w", err))
	}
	cfgPath, err := filepath.Abs(g.configPath())
	if err != nil {
		return bootinstall.Target{}, exitErr(ExitUsage, err)
	}
	var stopChain time.Duration
	if load {
		cfg, err := g.loadConfig()
		if err != nil {
			return bootinstall.Target{}, err
		}
		cfgPath = cfg.Path
		links := make(map[string]bootinstall.StopLink, len(cfg.Services))
		for _, s := range cfg.Services {
			l := bootinstall.StopLink{Timeout: s.Stop.Timeout}
			for _, d := range s.DependsOn {
				l.DependsOn = append(l.DependsOn, d.Name)
			}
			links[s.Name] = l
		}
		stopChain = bootinstall.StopChain(links)
	}
	t, err := bootinstall.NewTarget(bin, cfgPath, stopChain, f.user)
	if err != nil {
		return bootinstall.Target{}, exitErr(ExitUsage, err)
	}
	return t, nil
}

func (g *globals) installer() *bootinstall.Installer {
	return &bootinstall.Installer{
		Run:           bootinstall.ExecRunner,
		Home:          g.env.Getenv("HOME"),
		XDGConfigHome: g.env.Getenv("XDG_CONFIG_HOME"),
	}
}

var errNoHome = errors.New("--user needs $HOME")

func (g *globals) installCmd() *cobra.Command {
	var f installFlags
	var printOnly bool
	cmd := &cobra.Command{
		Use:   "install [--systemd|--launchd|--rcd|--cron] [--user] [--print]",
		Short: "make the supervisor start at boot (systemd unit, launchd plist, rc.d script or crontab lines)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := g.target(&f, true)
			if err != nil {
				return err
			}
			m := f.method()
			if printOnly {
				out := cmd.OutOrStdout()
				switch m {
				case bootinstall.Systemd:
					fmt.Fprint(out, t.SystemdUnit())
				case bootinstall.Launchd:
					fmt.Fprint(out, t.LaunchdPlist())
				case bootinstall.RCD:
					fmt.Fprint(out, t.RCDScript())
				default:
					fmt.Fprint(out, t.CronLines())
				}
				return nil
			}
			in := g.installer()
			if t.User && in.Home == "" && m != bootinstall.Cron {
				return exitErr(ExitUsage, errNoHome)
			}
			where, err := in.Install(background(), t, m)
			if err != nil {
				return exitErr(ExitFailed, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "installed %s (%s), enabled\n", where, m)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&printOnly, "print", false, "print what would be installed and change nothing")
	return cmd
}

func (g *globals) uninstallCmd() *cobra.Command {
	var f installFlags
	cmd := &cobra.Command{
		Use:   "uninstall [--systemd|--launchd|--rcd|--cron] [--user]",
		Short: "undo install: disable and remove the unit, plist, rc.d script or crontab lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := g.target(&f, false)
			if err != nil {
				return err
			}
			m := f.method()
			in := g.installer()
			if t.User && in.Home == "" && m != bootinstall.Cron {
				return exitErr(ExitUsage, errNoHome)
			}
			where, err := in.Uninstall(background(), t, m)
			if err != nil {
				return exitErr(ExitFailed, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "uninstalled %s (%s)\n", where, m)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
