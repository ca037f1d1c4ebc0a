package command

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentryagent/agentidp/libs/mtls"
)

// meshIdentities are the identities mesh-certs issues by default: every
// service, the gateway (Envoy and its control plane) and the bootstrap.
var meshIdentities = []string{mtls.Registry, mtls.Credentials, mtls.Audit, mtls.Token, mtls.Authz, mtls.Gateway, mtls.Bootstrap}

// newMeshCerts is `agentidp mesh-certs`: the mesh's CA and a certificate
// per identity, for deployments without cert-manager (docker compose's
// one-shot step). The CA is kept in --ca-dir and reused while it has more
// than a third of its life left; leaf certificates are re-issued at every
// run, in place, and the processes pick them up without a restart.
func newMeshCerts(s Streams) *cobra.Command {
	var (
		dir, caDir, owner, names string
		ttl, caTTL               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "mesh-certs --dir DIR --ca-dir DIR",
		Short: "Issue the mesh's mutual TLS certificates (spiffe://agentidp.local/<service>) from a local CA",
		Long: `Writes DIR/<identity>/{tls.crt,tls.key,ca.crt} for every identity (the services, the
gateway, bootstrap): the files TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE name. The CA lives in
--ca-dir (ca.crt, ca.key: keep it away from the services); it is created when missing and replaced
when less than a third of its life is left (the bundle then holds both). Run it again to rotate:
the services re-read their files within a second (docs/deploy.md, "Mesh certificates").`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || caDir == "" {
				return usagef("--dir and --ca-dir are required")
			}
			uid, gid := -1, -1
			if owner != "" {
				u, g, ok := strings.Cut(owner, ":")
				var err1, err2 error
				uid, err1 = strconv.Atoi(u)
				gid, err2 = strconv.Atoi(g)
				if !ok || err1 != nil || err2 != nil {
					return usagef("--owner %q: want UID:GID", owner)
				}
			}
			ca, bundle, err := meshCA(caDir, caTTL)
			if err != nil {
				return err
			}
			for _, name := range strings.Split(names, ",") {
				files, iss, err := ca.WriteFilesWithBundle(dir, strings.TrimSpace(name), ttl, bundle, nil, nil)
				if err != nil {
					return err
				}
				if uid >= 0 {
					for _, p := range []string{filepath.Dir(files.Cert), files.Cert, files.Key, files.CA} {
						if err := os.Chown(p, uid, gid); err != nil {
							return err
						}
					}
				}
				fmt.Fprintf(s.Out, "%s: %s until %s\n", files.Cert, mtls.ID(strings.TrimSpace(name)), iss.NotAfter.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", "", "where the identities' directories go")
	fl.StringVar(&caDir, "ca-dir", "", "where the CA's certificate and key are kept")
	fl.StringVar(&names, "names", strings.Join(meshIdentities, ","), "the identities to issue, comma-separated")
	fl.DurationVar(&ttl, "ttl", 30*24*time.Hour, "life of each certificate")
	fl.DurationVar(&caTTL, "ca-ttl", 365*24*time.Hour, "life of a new CA")
	fl.StringVar(&owner, "owner", "", "UID:GID to own the issued files (the services' user), when run as root")
	return cmd
}

// meshCA loads the CA of caDir, or creates it, and returns it with the
// bundle to trust (a replaced CA stays in it until it expires).
func meshCA(caDir string, caTTL time.Duration) (*mtls.CA, []byte, error) {
	ca, err := mtls.LoadCA(caDir)
	if errors.Is(err, fs.ErrNotExist) {
		if ca, err = mtls.NewCA(caTTL); err != nil {
			return nil, nil, err
		}
		return ca, ca.PEM, ca.Save(caDir)
	}
	if err != nil {
		return nil, nil, err
	}
	if time.Until(ca.NotAfter()) > caTTL/3 {
		return ca, ca.PEM, nil
	}
	next, err := mtls.NewCA(caTTL)
	if err != nil {
		return nil, nil, err
	}
	if err := next.Save(caDir); err != nil {
		return nil, nil, err
	}
	return next, append(append([]byte(nil), next.PEM...), ca.PEM...), nil
}
