package state

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Encryption at rest.
//
// The state holds row values (the before-images of repairs), so it can be
// encrypted: the state file (and the previous version a backend keeps) as a
// whole, and each journal record on its own, so that appending stays an
// append. The cipher is AES-256-GCM from the standard library: an AEAD
// with associated data, which binds each sealed blob to its role (a state
// document cannot be passed off as a journal record) and to its key, with
// no dependency outside the standard library. A key is 32 random bytes;
// offsetctl keeps no key and writes none to disk.
//
// A sealed state document is a JSON object of its own, with its own
// format_version:
//
//	{
//	  "encrypted": "offsetctl-state",
//	  "format_version": 1,
//	  "cipher": "AES-256-GCM",
//	  "key_id": "<16 hex digits: the start of SHA-256 of the key>",
//	  "nonce": "<base64, 12 bytes>",
//	  "ciphertext": "<base64: the sealed state file bytes and the GCM tag>"
//	}
//
// A sealed journal record is a journal line whose JSON is the same object,
// compact, with "encrypted": "offsetctl-journal-record", sealing the whole
// plaintext record line (its checksum included). An offsetctl older than
// encryption refuses both ("unknown field "encrypted"").
//
// Without a Keyring nothing changes: states are written byte for byte as
// before.

const (
	// EncryptionFormatVersion is the format_version of sealed documents
	// and records.
	EncryptionFormatVersion = 1
	cipherName              = "AES-256-GCM"
	kindState               = "offsetctl-state"
	kindJournalRecord       = "offsetctl-journal-record"
	// KeySize is the size of a state key in bytes.
	KeySize = 32
)

var (
	// ErrEncrypted: the state is encrypted and no key that opens it was
	// given. The error is an *EncryptionError.
	ErrEncrypted = errors.New("the state is encrypted")
	// ErrNotEncrypted: the state is stored in the clear, but a key was
	// configured, which asks for it encrypted.
	ErrNotEncrypted = errors.New("the state is not encrypted")
)

// EncryptionError says why an encrypted state could not be read: no key, or
// not the key it was sealed with.
type EncryptionError struct {
	// KeyID is the key the state was sealed with; Tried are the keys given.
	KeyID string
	Tried []string
	// What is "state", "journal record N" or the like.
	What string
	// Err is ErrEncrypted or another reason (tampering).
	Err error
}

func (e *EncryptionError) Error() string {
	switch {
	case !errors.Is(e.Err, ErrEncrypted):
		return fmt.Sprintf("the %s is encrypted (%s, key %s) but cannot be decrypted: %v", e.What, cipherName, e.KeyID, e.Err)
	case len(e.Tried) == 0:
		return fmt.Sprintf("the %s is encrypted (%s, key %s) and no key is configured: add encryption { key = ... } (or key_file, key_command) to the configuration's offsetctl { state } block", e.What, cipherName, e.KeyID)
	default:
		return fmt.Sprintf("the %s is encrypted with key %s, but the keys configured are %s: configure that key (while rotating, as previous_key)", e.What, e.KeyID, strings.Join(e.Tried, " and "))
	}
}

func (e *EncryptionError) Unwrap() error { return e.Err }

type sealingKey struct {
	id   string
	aead cipher.AEAD
}

// Keyring holds the key states are sealed with and the keys they may have
// been sealed with before (during a rotation).
type Keyring struct {
	current   sealingKey
	previous  []sealingKey
	plaintext bool
	rand      io.Reader
}

// ParseKey reads a key as text: 32 bytes written in standard or URL-safe
// base64 (with or without padding) or as 64 hexadecimal digits, surrounding
// whitespace ignored (as a key command prints it). The error never
// contains the text.
func ParseKey(text string) ([]byte, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return nil, errors.New("the state key is empty")
	}
	if len(t) == 2*KeySize {
		if b, err := hex.DecodeString(t); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(t); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("the state key is %d bytes, it must be %d (make one with: openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("the state key (%d characters) is neither base64 nor 64 hexadecimal digits (make one with: openssl rand -base64 32)", len(t))
}

// KeyID names a key in files and messages: the first 8 bytes of its SHA-256,
// in hexadecimal. It reveals nothing usable about the key.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("offsetctl state key\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

func newSealingKey(key []byte) (sealingKey, error) {
	if len(key) != KeySize {
		return sealingKey{}, fmt.Errorf("the state key is %d bytes, it must be %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealingKey{}, fmt.Errorf("the state key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealingKey{}, fmt.Errorf("the state key: %w", err)
	}
	return sealingKey{id: KeyID(key), aead: aead}, nil
}

// NewKeyring returns a keyring that seals with key and opens what key or
// any of previous sealed. Nonces come from random (crypto/rand.Reader when
// nil).
func NewKeyring(random io.Reader, key []byte, previous ...[]byte) (*Keyring, error) {
	cur, err := newSealingKey(key)
	if err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	k := &Keyring{current: cur, rand: random}
	for _, p := range previous {
		pk, err := newSealingKey(p)
		if err != nil {
			return nil, fmt.Errorf("the previous state key: %w", err)
		}
		if pk.id != cur.id {
			k.previous = append(k.previous, pk)
		}
	}
	return k, nil
}

// KeyID is the ID of the key the keyring seals with.
func (k *Keyring) KeyID() string { return k.current.id }

// AcceptingPlaintext returns a copy of k that also reads states stored in
// the clear, as offsetctl state rotate-key does to encrypt them.
func (k *Keyring) AcceptingPlaintext() *Keyring {
	c := *k
	c.plaintext = true
	return &c
}

// sealed is the envelope of a sealed document or record.
type sealed struct {
	Encrypted     string `json:"encrypted"`
	FormatVersion int    `json:"format_version"`
	Cipher        string `json:"cipher"`
	KeyID         string `json:"key_id"`
	Nonce         string `json:"nonce"`
	Ciphertext    string `json:"ciphertext"`
}

func associated(kind, keyID string) []byte {
	return []byte(fmt.Sprintf("%s/%d/%s/%s", kind, EncryptionFormatVersion, cipherName, keyID))
}

func (k *Keyring) seal(kind string, plain []byte) (*sealed, error) {
	nonce := make([]byte, k.current.aead.NonceSize())
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return nil, fmt.Errorf("encrypting the state: drawing a nonce: %w", err)
	}
	ct := k.current.aead.Seal(nil, nonce, plain, associated(kind, k.current.id))
	return &sealed{Encrypted: kind, FormatVersion: EncryptionFormatVersion, Cipher: cipherName, KeyID: k.current.id,
		Nonce: base64.StdEncoding.EncodeToString(nonce), Ciphertext: base64.StdEncoding.EncodeToString(ct)}, nil
}

// sniffSealed returns the envelope when data is one (a JSON object with an
// "encrypted" member), nil otherwise.
func sniffSealed(data []byte) *sealed {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' || !bytes.Contains(t, []byte(`"encrypted"`)) {
		return nil
	}
	var head struct {
		Encrypted *string `json:"encrypted"`
	}
	if json.Unmarshal(t, &head) != nil || head.Encrypted == nil {
		return nil
	}
	var s sealed
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if dec.Decode(&s) != nil {
		s = sealed{Encrypted: *head.Encrypted}
		_ = json.Unmarshal(t, &s)
		s.Cipher = "\x00unreadable"
	}
	return &s
}

// open decrypts an envelope of the given kind. keys may be nil (no key
// configured).
func open(k *Keyring, s *sealed, kind, what string) ([]byte, error) {
	fail := func(err error) error { return &EncryptionError{KeyID: s.KeyID, What: what, Err: err} }
	switch {
	case s.Encrypted != kind:
		return nil, fail(fmt.Errorf("it is sealed as %q where %q belongs", s.Encrypted, kind))
	case s.FormatVersion > EncryptionFormatVersion:
		return nil, fail(fmt.Errorf("its encryption format_version %d was written by a newer offsetctl, which reads %d at most: upgrade offsetctl to read it", s.FormatVersion, EncryptionFormatVersion))
	case s.FormatVersion != EncryptionFormatVersion:
		return nil, fail(fmt.Errorf("its encryption format_version %d is not a version offsetctl ever wrote", s.FormatVersion))
	case s.Cipher == "\x00unreadable":
		return nil, fail(errors.New("its envelope is damaged or has fields this offsetctl does not know"))
	case s.Cipher != cipherName:
		return nil, fail(fmt.Errorf("cipher %q is not one offsetctl knows (%s)", s.Cipher, cipherName))
	}
	nonce, err := base64.StdEncoding.DecodeString(s.Nonce)
	if err != nil || len(nonce) != 12 {
		return nil, fail(errors.New("its nonce is damaged"))
	}
	ct, err := base64.StdEncoding.DecodeString(s.Ciphertext)
	if err != nil {
		return nil, fail(errors.New("its ciphertext is not base64: the file is damaged"))
	}
	if k == nil {
		return nil, &EncryptionError{KeyID: s.KeyID, What: what, Err: ErrEncrypted}
	}
	var tried []string
	for _, key := range append([]sealingKey{k.current}, k.previous...) {
		tried = append(tried, key.id)
		if key.id != s.KeyID {
			continue
		}
		plain, err := key.aead.Open(nil, nonce, ct, associated(kind, key.id))
		if err != nil {
			return nil, fail(errors.New("its authentication failed: it was modified after it was written, or damaged"))
		}
		return plain, nil
	}
	return nil, &EncryptionError{KeyID: s.KeyID, Tried: tried, What: what, Err: ErrEncrypted}
}

// IsEncrypted reports whether data is a sealed state document.
func IsEncrypted(data []byte) bool { return sniffSealed(data) != nil }

// EncodeSealed returns the state file bytes of s (Encode), sealed with k's
// current key when k is not nil.
func EncodeSealed(s *State, offsetctlVersion string, k *Keyring) ([]byte, error) {
	data, err := Encode(s, offsetctlVersion)
	if err != nil || k == nil {
		return data, err
	}
	return k.Seal(data)
}

// Seal seals state file bytes as a sealed document (indented, with a
// trailing newline).
func (k *Keyring) Seal(data []byte) ([]byte, error) {
	env, err := k.seal(kindState, data)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encrypting the state: %w", err)
	}
	return append(out, '\n'), nil
}

// Open returns the state file bytes in data: data itself when it is not
// sealed (refused with ErrNotEncrypted when k is set and does not accept
// plaintext), else the decrypted document. what names data in messages.
func (k *Keyring) Open(data []byte, what string) ([]byte, error) {
	env := sniffSealed(data)
	if env == nil {
		if k != nil && !k.plaintext {
			return nil, fmt.Errorf("%w: the %s is stored in the clear, but the configuration encrypts the state (key %s): to encrypt it, run offsetctl state rotate-key; to read it as it is, remove the encryption block", ErrNotEncrypted, what, k.current.id)
		}
		return data, nil
	}
	return open(k, env, kindState, what)
}

// DecodeSealed is Decode of data opened with k (k may be nil: then a sealed
// document is refused with an *EncryptionError).
func DecodeSealed(data []byte, k *Keyring) (*State, error) {
	plain, err := k.Open(data, "state")
	if err != nil {
		return nil, err
	}
	return Decode(plain)
}

// SealRecord seals a journal record line (as AppendRecord returns it) as a
// journal line of its own. A nil k returns rec.
func (k *Keyring) SealRecord(rec []byte) ([]byte, error) {
	if k == nil {
		return rec, nil
	}
	env, err := k.seal(kindJournalRecord, bytes.TrimSuffix(rec, []byte("\n")))
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encrypting a journal record: %w", err)
	}
	return seal(append(make([]byte, 9, 9+len(body)+1), body...)), nil
}

// OpenJournal returns the journal data with every sealed record opened, for
// ReplayJournal: lines are kept in place, a line that does not pass its
// checksum (a torn last append, or damage ReplayJournal reports) is kept as
// it is. A line in the clear where k asks for encryption, or sealed where
// no key opens it, is refused. A nil k with no sealed line returns data.
func (k *Keyring) OpenJournal(data []byte) ([]byte, error) {
	if k == nil && !bytes.Contains(data, []byte(`"encrypted"`)) {
		return data, nil
	}
	var out []byte
	n := 0
	for rest := data; len(rest) > 0; {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			out = append(out, rest...)
			break
		}
		line := rest[:nl+1]
		rest = rest[nl+1:]
		n++
		if _, err := parseRecordLine(line[:nl]); errors.Is(err, errBadChecksum) {
			out = append(out, line...)
			continue
		}
		env := sniffSealed(line[9:nl])
		if env == nil {
			if k != nil && !k.plaintext {
				return nil, fmt.Errorf("%w: journal record %d is stored in the clear, but the configuration encrypts the state (key %s): to encrypt it, run offsetctl state rotate-key", ErrNotEncrypted, n, k.current.id)
			}
			out = append(out, line...)
			continue
		}
		plain, err := open(k, env, kindJournalRecord, fmt.Sprintf("state journal record %d", n))
		if err != nil {
			return nil, err
		}
		out = append(append(out, plain...), '\n')
	}
	return out, nil
}
