// Command vault is the real HashiCorp Vault server, built from the Go module
// proxy because no package of it is reachable here. Used for local runs and
// tests only (Vault 1.21 is BUSL-1.1); scripts/vault.sh builds and caches it.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
