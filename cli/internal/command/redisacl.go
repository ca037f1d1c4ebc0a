package command

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sentryagent/agentidp/libs/redisacl"
)

// newRedisACL is `agentidp redis-acl`: the users.acl of AgentIdP's Redis
// (libs/redisacl), for the operators who run it. The passwords live in a
// file of "user=password" lines (mode 0600), created with fresh random
// passwords when it does not exist; the ACL itself holds only their
// SHA-256s, so it may be stored like any configuration.
func newRedisACL(s Streams) *cobra.Command {
	var passwordsFile string
	cmd := &cobra.Command{
		Use:   "redis-acl --passwords FILE",
		Short: "Print the users.acl of AgentIdP's Redis: one user per service, only its commands and keys",
		Long: `Prints a users.acl for redis-server --aclfile (or ACL LOAD): the default user off, one user
per service that uses Redis (token, authz, audit) with only the commands and key patterns it
uses, and an operator user. Passwords come from --passwords (lines user=password); a file that
does not exist is created (mode 0600) with fresh 256-bit passwords. Give each service its own
REDIS_URL: rediss://<service>:<password>@<host>:6379/0 (docs/security.md).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if passwordsFile == "" {
				return usagef("--passwords FILE is required")
			}
			passwords, err := loadOrCreatePasswords(passwordsFile)
			if err != nil {
				return err
			}
			acl, err := redisacl.File(passwords)
			if err != nil {
				return fmt.Errorf("%s: %w", passwordsFile, err)
			}
			_, err = fmt.Fprint(s.Out, acl)
			return err
		},
	}
	cmd.Flags().StringVar(&passwordsFile, "passwords", "", "file of user=password lines (created with fresh passwords if missing)")
	return cmd
}

func loadOrCreatePasswords(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		passwords := redisacl.Passwords()
		names := make([]string, 0, len(passwords))
		for n := range passwords {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, "%s=%s\n", n, passwords[n])
		}
		// O_EXCL: never overwrite passwords another run just wrote.
		out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		if _, err := out.WriteString(b.String()); err != nil {
			out.Close()
			return nil, err
		}
		return passwords, out.Close()
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	passwords := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, password, ok := strings.Cut(text, "=")
		if !ok || user == "" || password == "" {
			return nil, fmt.Errorf("%s:%d: want user=password", path, line) // never echo the line: it holds a password
		}
		passwords[user] = password
	}
	return passwords, sc.Err()
}
