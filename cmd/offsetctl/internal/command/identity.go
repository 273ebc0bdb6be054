package command

import (
	"os"
	"os/user"
)

// operator names who runs offsetctl and where, for locks and the state:
// the user from $USER (or USERNAME, LOGNAME), else the operating system's
// account (os/user: a container or a service often has no USER), and the
// host name. Both record the same person, so a lock never says "someone".
func operator(deps *Deps) (who, host string) {
	who = currentUser(deps)
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return who, host
}

// currentUser names who applies: $USER (or USERNAME, LOGNAME), else the
// account the process runs as.
func currentUser(deps *Deps) string {
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := deps.Getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}
