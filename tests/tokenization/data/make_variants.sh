#!/usr/bin/env bash
# Regenerates variant_<name>.jsonl: each entry of variants.json is a shared tokenizer.json with a
# JSON patch (RFC 6902) applied, encoded by the real HF tokenizers through hf_encode.mjs.
# usage: NODE_PATH=/path/to/node_modules tests/tokenization/data/make_variants.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${TCPP_SHARED_DIR:-$here/../../../../shared}
tmp=$(mktemp -d)
python3 - "$here" "$shared" "$tmp" <<'PY'
import json, sys, copy
here, shared, tmp = sys.argv[1:]
def apply(doc, ops):
    for op in ops:
        parts = [p.replace('~1', '/').replace('~0', '~') for p in op['path'].split('/')[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        if isinstance(parent, list):
            if op['op'] == 'add':
                parent.insert(len(parent) if last == '-' else int(last), op['value'])
            else:
                parent[int(last)] = op['value']
        else:
            parent[last] = op['value']
    return doc
for v in json.load(open(f'{here}/variants.json')):
    base = json.load(open(f"{shared}/tokenizers/models/{v['base']}/tokenizer.json"))
    json.dump(apply(base, v['patch']), open(f"{tmp}/{v['name']}.json", 'w'), ensure_ascii=False)
PY
for f in "$tmp"/*.json; do
  name=$(basename "$f" .json)
  node "$shared/tools/hf_encode.mjs" "$f" "$here/variant_texts.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line); r.pop("text", None); r.pop("no_special", None)
    print(json.dumps(r, ensure_ascii=False, separators=(",", ":")))' > "$here/variant_$name.jsonl"
  echo "$name: $(wc -l < "$here/variant_$name.jsonl") lines"
done
rm -rf "$tmp"
