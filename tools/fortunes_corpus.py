#!/usr/bin/env python3
"""Builds the training corpus of the demo model from Debian's `fortunes` package.

usage: tools/fortunes_corpus.py OUT_DIR [--source /usr/share/games/fortunes] [--heldout-bytes 6000]

Every fortune file (entries separated by lines holding a single "%") except ascii-art (pictures,
not prose) is read in sorted order; trailing spaces and blank lines are trimmed from each entry.
Every 20th entry goes to the held-out split. Writes:
  train.jsonl, eval.jsonl   {"text": "<fortune><|endoftext|>"} rows, for `transformers train`
  heldout.txt               the first held-out entries (about --heldout-bytes), separated by
                            "\\n%\\n", the text the tests measure perplexity on
Deterministic: the same package version gives byte-identical files.
"""
import json
import os
import sys

EOS = "<|endoftext|>"
SKIPPED = {"ascii-art"}


def read_fortunes(source):
    entries = []
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        if "." in name or name in SKIPPED or not os.path.isfile(path):
            continue  # .dat indexes, .u8 links, pictures
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for entry in text.split("\n%\n"):
            lines = [line.rstrip() for line in entry.strip("\n").split("\n")]
            entry = "\n".join(lines).strip("\n")
            if entry and entry != "%":
                entries.append(entry)
    return entries


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out = args[0]
    source = "/usr/share/games/fortunes"
    heldout_bytes = 6000
    if "--source" in args:
        source = args[args.index("--source") + 1]
    if "--heldout-bytes" in args:
        heldout_bytes = int(args[args.index("--heldout-bytes") + 1])
    entries = read_fortunes(source)
    if not entries:
        sys.exit(f"fortunes_corpus: no fortunes under {source} (scripts/install-deps corpus)")
    train = [e for i, e in enumerate(entries) if i % 20 != 0]
    held = [e for i, e in enumerate(entries) if i % 20 == 0]
    os.makedirs(out, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("eval.jsonl", held)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            for e in rows:
                f.write(json.dumps({"text": e + EOS}, ensure_ascii=False) + "\n")
    shipped, size = [], 0
    for e in held:
        if size >= heldout_bytes:
            break
        shipped.append(e)
        size += len(e.encode("utf-8")) + 3
    with open(os.path.join(out, "heldout.txt"), "w", encoding="utf-8") as f:
        f.write("\n%\n".join(shipped) + "\n")
    chars = sum(len(e) for e in train)
    print(f"fortunes_corpus: {len(train)} train entries ({chars} chars), {len(held)} held out, "
          f"heldout.txt {len(shipped)} entries")


if __name__ == "__main__":
    main()
