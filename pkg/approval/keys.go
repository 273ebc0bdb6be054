package approval

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// KeySource says where a signing key comes from, as ssh-keygen -Y sign -f
// takes it: a private key file, or a public key file whose private half is
// in the SSH agent; with no file, the agent's one key.
type KeySource struct {
	// Path is the -key file; empty uses the agent.
	Path string
	// AgentSocket is $SSH_AUTH_SOCK.
	AgentSocket string
}

// Signer returns the signer the source names, and a function that closes
// what it opened.
func (k KeySource) Signer() (ssh.Signer, func(), error) {
	noop := func() {}
	if k.Path != "" {
		b, err := os.ReadFile(k.Path)
		if err != nil {
			return nil, noop, fmt.Errorf("reading the signing key: %w", err)
		}
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
			return k.fromAgent(pub)
		}
		s, err := ssh.ParsePrivateKey(b)
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, noop, fmt.Errorf("the key %s is protected by a passphrase: add it to your SSH agent (ssh-add %s) and give -key %s.pub, or no -key to use the agent's one key", k.Path, k.Path, k.Path)
		}
		if err != nil {
			return nil, noop, fmt.Errorf("%s is neither an OpenSSH private key nor a public key: %w", k.Path, err)
		}
		return s, noop, nil
	}
	return k.fromAgent(nil)
}

func (k KeySource) fromAgent(want ssh.PublicKey) (ssh.Signer, func(), error) {
	noop := func() {}
	if k.AgentSocket == "" {
		if want != nil {
			return nil, noop, fmt.Errorf("%s is a public key, and no SSH agent holds its private half (SSH_AUTH_SOCK is not set): give the private key file with -key, or start ssh-agent and ssh-add the key", k.Path)
		}
		return nil, noop, fmt.Errorf("no signing key: give one with -key FILE (a private key, or a public key whose private half is in your SSH agent), or start ssh-agent and ssh-add your key")
	}
	conn, err := net.Dial("unix", k.AgentSocket)
	if err != nil {
		return nil, noop, fmt.Errorf("connecting to the SSH agent at SSH_AUTH_SOCK: %w", err)
	}
	closeFn := func() { _ = conn.Close() }
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		closeFn()
		return nil, noop, fmt.Errorf("listing the SSH agent's keys: %w", err)
	}
	if want != nil {
		fp := ssh.FingerprintSHA256(want)
		for _, s := range signers {
			if ssh.FingerprintSHA256(s.PublicKey()) == fp {
				return s, closeFn, nil
			}
		}
		closeFn()
		return nil, noop, fmt.Errorf("the SSH agent does not hold the private key of %s (%s): ssh-add it first", k.Path, fp)
	}
	switch len(signers) {
	case 1:
		return signers[0], closeFn, nil
	case 0:
		closeFn()
		return nil, noop, fmt.Errorf("the SSH agent holds no key: ssh-add yours, or give one with -key FILE")
	default:
		closeFn()
		return nil, noop, fmt.Errorf("the SSH agent holds %d keys: name the one to sign with by its public key file, -key ~/.ssh/id_ed25519.pub", len(signers))
	}
}
