package views

import "testing"

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20"
	b := "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n"
	got := unifiedDiff("x.hcl", []byte(a), []byte(b))
	want := `--- a/x.hcl
+++ b/x.hcl
@@ -1,6 +1,6 @@
 1
 2
-3
+three
 4
 5
 6
@@ -17,4 +17,5 @@
 17
 18
 19
-20
\ No newline at end of file
+20
+21
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if unifiedDiff("x", []byte(a), []byte(a)) != "" {
		t.Error("equal inputs give a diff")
	}
	got = unifiedDiff("y", []byte(""), []byte("new\n"))
	if got != "--- a/y\n+++ b/y\n@@ -0,0 +1,1 @@\n+new\n" {
		t.Errorf("from empty:\n%s", got)
	}
}
