package statetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// EncryptedStore creates a fresh, empty store for one test. open returns a
// new handle on it sealing with keys (nil: in the clear); raw returns every
// byte the store holds (files, or rows), for scanning.
type EncryptedStore func(t *testing.T) (open func(keys *state.Keyring) state.Backend, raw func() []byte)

// personal is a row value the encrypted store must never show.
const personal = "Ada Lovelace, 12 St James's Square"

// RunEncryption checks a backend's encryption at rest: a state in the clear
// is refused once a key is configured, rotate-key (Rekey) encrypts it, the
// row values appear in no stored byte, in the state, its journal or the
// previous version kept, while an apply is under way as after; reading
// without the key says so; rotating to a new key with the old one as
// previous leaves nothing sealed with the old key.
func RunEncryption(t *testing.T, newStore EncryptedStore) {
	open, raw := newStore(t)
	opened := func(keys *state.Keyring) state.Backend {
		b := open(keys)
		t.Cleanup(func() { b.Close() })
		return b
	}
	k1, err := state.NewKeyring(nil, bytes.Repeat([]byte{1}, state.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := state.NewKeyring(nil, bytes.Repeat([]byte{2}, state.KeySize), bytes.Repeat([]byte{1}, state.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	k2only, _ := state.NewKeyring(nil, bytes.Repeat([]byte{2}, state.KeySize))
	ctx := ctxT(t)
	rowImage := func(i int) state.Image {
		return state.Image{Row: &state.RowImage{Database: "sink", Table: "public.customers",
			Key: json.RawMessage(`{"id":` + string(rune('0'+i)) + `}`), Row: json.RawMessage(`{"id":` + string(rune('0'+i)) + `,"name":"` + personal + `"}`)}}
	}
	// An apply: a whole write, then journalled ones, then the fold.
	apply := func(b state.Backend, name string, check func(during []byte)) {
		t.Helper()
		id := lock(t, b, "alice")
		s, err := b.Read(ctx)
		if errors.Is(err, state.ErrNoState) {
			s, err = state.New("00000000-0000-4000-8000-00000000000e"), nil
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		op := s.Begin(state.Operation{Name: name, Kind: state.KindReconcile, Started: t0})
		if err := b.Write(ctx, s, id); err != nil {
			t.Fatalf("Write: %v", err)
		}
		for i := range 3 {
			s.Operations[len(s.Operations)-1].BeforeImages = append(s.Operations[len(s.Operations)-1].BeforeImages, rowImage(i))
			if err := b.Write(ctx, s, id); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		_ = op
		if check != nil {
			check(raw())
		}
		unlock(t, b, id)
	}
	shows := func(data []byte) bool { return bytes.Contains(data, []byte(personal)) }

	// In the clear, as before.
	apply(opened(nil), "first", nil)
	if !shows(raw()) {
		t.Fatal("the test is wrong: the state in the clear does not show the row")
	}
	before, err := opened(nil).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A key configured: the state in the clear is refused, and says how to
	// encrypt it.
	if _, err := opened(k1).Read(ctx); !errors.Is(err, state.ErrNotEncrypted) || !strings.Contains(err.Error(), "rotate-key") {
		t.Fatalf("Read in the clear with a key: %v", err)
	}
	// rotate-key: encrypt it.
	rekey := func(keys *state.Keyring) {
		t.Helper()
		b := opened(keys)
		id := lock(t, b, "ops")
		serial, err := b.(state.Rekeyer).Rekey(ctx, id)
		if err != nil {
			t.Fatalf("Rekey: %v", err)
		}
		if serial != before.Serial && keys == k1.AcceptingPlaintext() {
			t.Fatalf("Rekey wrote serial %d, the state was %d", serial, before.Serial)
		}
		unlock(t, b, id)
	}
	rekey(k1.AcceptingPlaintext())
	if shows(raw()) {
		t.Fatalf("after rotate-key, the store still shows the row:\n%s", raw())
	}
	after, err := opened(k1).Read(ctx)
	if err != nil {
		t.Fatalf("Read with the key: %v", err)
	}
	if a, b := mustEncode(t, before), mustEncode(t, after); !bytes.Equal(a, b) {
		t.Fatalf("encryption changed the state:\n%s\n---\n%s", a, b)
	}
	// Without the key: says it is encrypted, with which key.
	if _, err := opened(nil).Read(ctx); !errors.Is(err, state.ErrEncrypted) || !strings.Contains(err.Error(), k1.KeyID()) || !strings.Contains(err.Error(), "no key is configured") {
		t.Fatalf("Read without the key: %v", err)
	}
	// An encrypted apply: nothing in the clear while it runs (journal) nor after.
	apply(opened(k1), "second", func(during []byte) {
		if shows(during) {
			t.Fatalf("while the apply runs, the store shows the row:\n%s", during)
		}
	})
	if shows(raw()) {
		t.Fatal("after an encrypted apply, the store shows the row")
	}
	s, err := opened(k1).Read(ctx)
	if err != nil || len(s.Operations) != 2 || len(s.Operations[1].BeforeImages) != 3 {
		t.Fatalf("Read after the encrypted apply: %v", err)
	}
	// Rotation: the new key with the old as previous reads, Rekey re-seals
	// everything, then the old key is not needed (nor accepted).
	if _, err := opened(k2).Read(ctx); err != nil {
		t.Fatalf("Read with the new key and the old as previous: %v", err)
	}
	if _, err := opened(k2only).Read(ctx); !errors.Is(err, state.ErrEncrypted) || !strings.Contains(err.Error(), "encrypted with key "+k1.KeyID()) {
		t.Fatalf("Read with the new key alone before rotating: %v", err)
	}
	rekey(k2)
	if bytes.Contains(raw(), []byte(k1.KeyID())) {
		t.Fatalf("after rotating, something is still sealed with the old key:\n%s", raw())
	}
	if got, err := opened(k2only).Read(ctx); err != nil || len(got.Operations) != 2 {
		t.Fatalf("Read with the new key alone after rotating: %v", err)
	}
	if _, err := opened(k1).Read(ctx); !errors.Is(err, state.ErrEncrypted) {
		t.Fatalf("Read with the old key after rotating: %v", err)
	}
	if shows(raw()) {
		t.Fatal("after rotating, the store shows the row")
	}
}

func mustEncode(t *testing.T, s *state.State) []byte {
	t.Helper()
	b, err := state.Encode(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
