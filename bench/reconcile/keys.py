"""Prints the differing keys found by offsetctl (-json on stdin) or by
pg_comparator (its output on stdin) as sorted 'kind key' lines, kind being
missing (in the source only), extra (in the sink only) or mismatched."""
import json
import sys

out = []
if sys.argv[1] == "offsetctl":
    table = json.load(sys.stdin)["tables"][0]
    for kind in ("missing", "extra", "mismatched"):
        for d in table.get(kind) or []:
            out.append(kind + " " + ",".join(d["key"]))
else:
    kinds = {"INSERT": "missing", "DELETE": "extra", "UPDATE": "mismatched"}
    for line in sys.stdin:
        parts = line.split()
        if len(parts) >= 2 and parts[0] in kinds:
            out.append(kinds[parts[0]] + " " + ",".join(parts[1:]))
for line in sorted(out):
    print(line)
