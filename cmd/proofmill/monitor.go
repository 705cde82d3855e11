package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofmill/proofmill/node"
)

func monitorCmd(e *env) *cobra.Command {
	var cfg node.MonitorConfig
	c := &cobra.Command{Use: "monitor", Short: "Serve asynq's web UI (asynqmon), read-only, over the service's Redis", Args: noArgs,
		Long: `monitor serves asynqmon's web UI and JSON API (/api/queues, ...) over the queues proofmill keeps in
Redis: queues, tasks (job id, circuit, tenant, priority), retries and archived failures with
their reasons. It is read-only (anything but GET is refused), and has no authentication, so it
listens on loopback unless --allow-remote says otherwise.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = e.log
			m, err := node.NewMonitor(cfg)
			if err != nil {
				return err
			}
			if err := m.Start(cmd.Context()); err != nil {
				return err
			}
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 5*time.Second)
			defer cancel()
			return m.Shutdown(ctx)
		}}
	f := c.Flags()
	f.StringVar(&cfg.Redis, "redis", os.Getenv("PROOFMILL_REDIS"), "the service's Redis at `addr` (host:port or URI, see README) ($PROOFMILL_REDIS)")
	f.StringVar(&cfg.Listen, "listen", node.DefaultMonitorListen, "serve the UI on `host:port`")
	f.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a --listen address beyond loopback (the UI has no authentication: put it behind one)")
	return c
}
