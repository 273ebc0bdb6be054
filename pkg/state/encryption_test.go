package state

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustKeyring(t *testing.T, key []byte, previous ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(nil, key, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKey(t *testing.T) {
	key := testKey(7)
	for _, tc := range []struct {
		name, text, err string
	}{
		{"base64", base64.StdEncoding.EncodeToString(key), ""},
		{"base64 with a newline", base64.StdEncoding.EncodeToString(key) + "\n", ""},
		{"url base64 unpadded", base64.RawURLEncoding.EncodeToString(key), ""},
		{"hex", hex.EncodeToString(key), ""},
		{"empty", " \n", "the state key is empty"},
		{"short", base64.StdEncoding.EncodeToString(key[:16]), "is 16 bytes, it must be 32"},
		{"not a key", "correct horse battery staple", "neither base64 nor 64 hexadecimal digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.text)
			if tc.err == "" {
				if err != nil || !bytes.Equal(got, key) {
					t.Fatalf("ParseKey = %x, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ParseKey = %v, want %q", err, tc.err)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(tc.text)) && strings.TrimSpace(tc.text) != "" {
				t.Fatalf("the error shows the key text: %v", err)
			}
		})
	}
}

// TestSealedStateRoundTrip: a sealed state file holds none of the state's
// bytes, opens with its key (or as a previous key) to the very bytes Encode
// wrote, and carries its own format_version.
func TestSealedStateRoundTrip(t *testing.T) {
	s := New("00000000-0000-4000-8000-000000000001")
	s.Serial = 3
	op := s.Begin(Operation{Name: "customers", Kind: KindReconcile, Started: tj})
	op.BeforeImages = append(op.BeforeImages, rowImage(1))
	plain, err := Encode(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	k := mustKeyring(t, testKey(1))
	data, err := EncodeSealed(s, "test", k)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"line", "customers", "before_images", s.Lineage} {
		if bytes.Contains(data, []byte(leak)) {
			t.Fatalf("the sealed state shows %q:\n%s", leak, data)
		}
	}
	var env map[string]any
	if err := json.Unmarshal(data, &env); err != nil || env["format_version"] != float64(1) || env["encrypted"] != "offsetctl-state" || env["key_id"] != KeyID(testKey(1)) {
		t.Fatalf("envelope %v (%v):\n%s", env, err, data)
	}
	for name, kr := range map[string]*Keyring{"current key": k, "previous key": mustKeyring(t, testKey(2), testKey(1))} {
		got, err := kr.Open(data, "state")
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%s: Open = %v", name, err)
		}
		back, err := DecodeSealed(data, kr)
		if err != nil || back.Serial != 3 || len(back.Operations[0].BeforeImages) != 1 {
			t.Fatalf("%s: DecodeSealed = %v", name, err)
		}
	}
	again, _ := EncodeSealed(s, "test", k)
	if bytes.Equal(again, data) {
		t.Fatal("two seals of one state are equal: the nonce is not fresh")
	}
	// Without a keyring nothing changes.
	if same, err := EncodeSealed(s, "test", nil); err != nil || !bytes.Equal(same, plain) {
		t.Fatalf("EncodeSealed without keys differs from Encode: %v", err)
	}
}

// TestSealedStateRefusals: what cannot be opened is refused, and says why.
func TestSealedStateRefusals(t *testing.T) {
	s := New("l")
	s.Serial = 1
	k := mustKeyring(t, testKey(1))
	good, err := EncodeSealed(s, "test", k)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := Encode(s, "test")
	var env sealed
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(e *sealed)) []byte {
		e := env
		f(&e)
		b, _ := json.Marshal(e)
		return b
	}
	ct, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
	ct[0] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		keys *Keyring
		is   error
		want string
	}{
		{"no key", good, nil, ErrEncrypted, "is encrypted (AES-256-GCM, key " + KeyID(testKey(1)) + ") and no key is configured"},
		{"other key", good, mustKeyring(t, testKey(2)), ErrEncrypted, "encrypted with key " + KeyID(testKey(1)) + ", but the keys configured are " + KeyID(testKey(2))},
		{"tampered", edit(func(e *sealed) { e.Ciphertext = base64.StdEncoding.EncodeToString(ct) }), k, nil, "modified after it was written"},
		{"key id edited", edit(func(e *sealed) { e.KeyID = KeyID(testKey(2)) }), mustKeyring(t, testKey(2), testKey(1)), nil, "authentication failed"},
		{"future version", edit(func(e *sealed) { e.FormatVersion = 2 }), k, nil, "encryption format_version 2 was written by a newer offsetctl"},
		{"zero version", edit(func(e *sealed) { e.FormatVersion = 0 }), k, nil, "format_version 0 is not a version offsetctl ever wrote"},
		{"other cipher", edit(func(e *sealed) { e.Cipher = "ChaCha20-Poly1305" }), k, nil, `cipher "ChaCha20-Poly1305" is not one offsetctl knows`},
		{"a journal record as a state", edit(func(e *sealed) { e.Encrypted = kindJournalRecord }), k, nil, `sealed as "offsetctl-journal-record"`},
		{"unknown field", bytes.Replace(good, []byte(`"cipher"`), []byte(`"surprise": 1, "cipher"`), 1), k, nil, "fields this offsetctl does not know"},
		{"bad nonce", edit(func(e *sealed) { e.Nonce = "AAAA" }), k, nil, "nonce is damaged"},
		{"plaintext where a key is configured", plain, k, ErrNotEncrypted, "run offsetctl state rotate-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSealed(tc.data, tc.keys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeSealed = %v, want %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("DecodeSealed = %v, not %v", err, tc.is)
			}
		})
	}
	// Decode alone says the state is encrypted rather than "unknown field".
	if _, err := Decode(good); !errors.Is(err, ErrEncrypted) {
		t.Fatalf("Decode of a sealed state: %v", err)
	}
	// A keyring that accepts plaintext reads it (rotate-key encrypting a state).
	if _, err := DecodeSealed(plain, k.AcceptingPlaintext()); err != nil {
		t.Fatal(err)
	}
}

// TestSealedJournal: sealed records replay as the plaintext ones do; a torn
// last append is still a torn append; plaintext records are refused where
// a key is configured; a record sealed with another key says which.
func TestSealedJournal(t *testing.T) {
	s := New("00000000-0000-4000-8000-000000000001")
	s.Serial = 1
	stored, _ := Decode(mustEncode(t, s))
	k := mustKeyring(t, testKey(1))
	w := Snapshot(s)
	var plain, sealedJournal []byte
	for i, change := range journalSteps {
		change(s)
		s.Serial++
		rec, next, ok, err := AppendRecord(w, s, "test")
		if err != nil || !ok {
			t.Fatalf("change %d: %v %v", i, ok, err)
		}
		w = next
		plain = append(plain, rec...)
		sr, err := k.SealRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sr, []byte("d.customers")) {
			t.Fatalf("a sealed record shows the table: %s", sr)
		}
		sealedJournal = append(sealedJournal, sr...)
	}
	opened, err := k.OpenJournal(sealedJournal)
	if err != nil || !bytes.Equal(opened, plain) {
		t.Fatalf("OpenJournal = %v", err)
	}
	want, _, err := ReplayJournal(stored, plain)
	if err != nil {
		t.Fatal(err)
	}
	got, used, err := ReplayJournal(stored, opened)
	if err != nil || used != len(opened) || !bytes.Equal(mustEncode(t, got), mustEncode(t, want)) {
		t.Fatalf("replay of the opened journal: %d %v", used, err)
	}
	torn := sealedJournal[:len(sealedJournal)-20]
	opened, err = k.OpenJournal(torn)
	if err != nil {
		t.Fatalf("a torn last record: %v", err)
	}
	if _, used, err := ReplayJournal(stored, opened); err != nil || used == len(opened) {
		t.Fatalf("a torn last record replays as %d of %d bytes, %v", used, len(opened), err)
	}
	if _, err := k.OpenJournal(plain); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("plaintext records with a key: %v", err)
	}
	if _, err := (*Keyring)(nil).OpenJournal(sealedJournal); !errors.Is(err, ErrEncrypted) || !strings.Contains(err.Error(), "state journal record 1 is encrypted") {
		t.Fatalf("sealed records without a key: %v", err)
	}
	if _, err := mustKeyring(t, testKey(3)).OpenJournal(sealedJournal); !errors.Is(err, ErrEncrypted) || !strings.Contains(err.Error(), KeyID(testKey(3))) {
		t.Fatalf("sealed records, other key: %v", err)
	}
}

func mustEncode(t *testing.T, s *State) []byte {
	t.Helper()
	b, err := Encode(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSealedFormatIsStable: with a fixed nonce the sealed state file and
// journal record are golden, byte for byte: their format is a contract,
// and a file sealed by this version opens with this version's reader.
func TestSealedFormatIsStable(t *testing.T) {
	s := New("00000000-0000-4000-8000-000000000001")
	s.Serial = 1
	k, err := NewKeyring(bytes.NewReader(bytes.Repeat([]byte{0xAB}, 1024)), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeSealed(s, "test", k)
	if err != nil {
		t.Fatal(err)
	}
	w := Snapshot(s)
	journalSteps[0](s)
	s.Serial++
	rec, _, _, err := AppendRecord(w, s, "test")
	if err != nil {
		t.Fatal(err)
	}
	sealedRec, err := k.SealRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	goldens.Assert(t, "state.json", data)
	goldens.Assert(t, "journal", sealedRec)
	back, err := DecodeSealed(data, mustKeyring(t, testKey(1)))
	if err != nil || back.Lineage != s.Lineage {
		t.Fatalf("the golden state does not open: %v", err)
	}
	if opened, err := mustKeyring(t, testKey(1)).OpenJournal(sealedRec); err != nil || !bytes.Equal(opened, rec) {
		t.Fatalf("the golden record does not open: %v", err)
	}
}
