package command

import "os"

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
