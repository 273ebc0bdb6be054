package state

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// stateSeeds are the state files of the round-trip and refusal tests.
func stateSeeds(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, pattern := range []string{"testdata/roundtrip/*.json", "testdata/refuse/*.json"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, data)
		}
	}
	if len(out) == 0 {
		f.Fatal("no seed state files")
	}
	return out
}

// FuzzStateFile: state file bytes decode to a state or an error, never a
// panic; a decoded state encodes, decodes again, and encodes to the same
// bytes.
func FuzzStateFile(f *testing.F) {
	for _, data := range stateSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkStateRoundTrip(t, data)
	})
}

func checkStateRoundTrip(t *testing.T, data []byte) *State {
	t.Helper()
	s, err := Decode(data)
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("%q: an empty error message", data)
		}
		return nil
	}
	out, err := Encode(s, "fuzz")
	if err != nil {
		t.Fatalf("state %q decoded but does not encode: %v", data, err)
	}
	s2, err := Decode(out)
	if err != nil {
		t.Fatalf("state %q decoded, but its encoding is refused: %v\n%s", data, err, out)
	}
	again, err := Encode(s2, "fuzz")
	if err != nil || !bytes.Equal(out, again) {
		t.Fatalf("state %q does not round-trip (%v):\n%s\n---\n%s", data, err, out, again)
	}
	return s2
}

// FuzzStateJournal: journal bytes replayed on a state file give a state or
// an error, never a panic, and never claim more bytes than given. Each input
// is tried as given and with every line's checksum made to match, so the
// decoder behind the checksum is reached. A replayed state round-trips as a
// state file does.
func FuzzStateJournal(f *testing.F) {
	golden, err := os.ReadFile("testdata/TestJournalRoundTrip/journal.golden")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	lines := bytes.SplitAfter(golden, []byte("\n"))
	for i := range lines {
		f.Add(bytes.Join(lines[:i], nil))
		f.Add(bytes.Join(lines[i:], nil))
	}
	f.Add([]byte("00000000 {}\n"))
	f.Add([]byte("not a journal\n"))
	base := New("00000000-0000-4000-8000-000000000001")
	base.Serial = 1
	file, err := Encode(base, "test")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, journal := range [][]byte{data, reseal(data)} {
			stored, err := Decode(file)
			if err != nil {
				t.Fatal(err)
			}
			got, used, err := ReplayJournal(stored, journal)
			if used < 0 || used > len(journal) {
				t.Fatalf("journal %q: used %d of %d bytes", journal, used, len(journal))
			}
			if err != nil {
				continue
			}
			out, err := Encode(got, "fuzz")
			if err != nil {
				t.Fatalf("journal %q replayed to a state that does not encode: %v", journal, err)
			}
			checkStateRoundTrip(t, out)
		}
	})
}

// reseal gives every line of a journal that has room for one the checksum
// of its content.
func reseal(data []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) < 10 || line[len(line)-1] != '\n' {
			out = append(out, line...)
			continue
		}
		rec := append([]byte(nil), line[:len(line)-1]...)
		out = append(out, seal(rec)...)
	}
	return out
}

// FuzzSealed: whatever bytes are given as an encrypted state or journal,
// opening them gives the plaintext or an error, never a panic; what is
// sealed opens to the very bytes sealed.
func FuzzSealed(f *testing.F) {
	k, err := NewKeyring(nil, bytes.Repeat([]byte{5}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	for _, data := range stateSeeds(f)[:3] {
		sealedState, err := k.Seal(data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealedState)
	}
	golden, err := os.ReadFile("testdata/TestJournalRoundTrip/journal.golden")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.SplitAfter(golden, []byte("\n"))[:2] {
		rec, err := k.SealRecord(line)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	}
	f.Add([]byte(`{"encrypted":"offsetctl-state","format_version":1,"cipher":"AES-256-GCM","key_id":"x","nonce":"","ciphertext":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, keys := range []*Keyring{nil, k, k.AcceptingPlaintext()} {
			if plain, err := keys.Open(data, "state"); err == nil && keys != nil && IsEncrypted(data) {
				again, err := k.Seal(plain)
				if err != nil {
					t.Fatal(err)
				}
				if back, err := k.Open(again, "state"); err != nil || !bytes.Equal(back, plain) {
					t.Fatalf("sealed %q opens to %q, %v", plain, back, err)
				}
			}
			_, _ = DecodeSealed(data, keys)
			_, _ = keys.OpenJournal(data)
			_, _ = keys.OpenJournal(reseal(data))
		}
	})
}
