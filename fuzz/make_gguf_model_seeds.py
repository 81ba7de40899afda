#!/usr/bin/python3
"""Writes the seeds of fuzz/gguf_model.cpp into fuzz/corpus/gguf_model: two small GGUF v3 files
of a 2-layer llama (metadata and a token_embd tensor), one with a "llama" (SentencePiece) and one
with a "gpt2" (byte-level BPE) vocabulary, as llama.cpp's converter lays them out; and an
importance matrix as llama-imatrix writes it (sums and counts of a matrix and of 2 experts), in its
GGUF format and in its legacy one (imatrix.dat). Run by hand:
  /usr/bin/python3 fuzz/make_gguf_model_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "gguf_model")
U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9


def string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def value(kind, v):
    if kind == U32:
        return struct.pack("<I", v)
    if kind == I32:
        return struct.pack("<i", v)
    if kind == F32:
        return struct.pack("<f", v)
    if kind == BOOL:
        return struct.pack("<?", v)
    if kind == STRING:
        return string(v)
    item_kind, items = v
    return struct.pack("<IQ", item_kind, len(items)) + b"".join(value(item_kind, x) for x in items)


def gguf(metadata, vocab_size, hidden=8):
    kvs = b"".join(string(k) + struct.pack("<I", kind) + value(kind, v) for k, kind, v in metadata)
    # token_embd: ggml dims [hidden, vocab] (fastest first), F32 (type 0), offset 0.
    info = string("token_embd.weight") + struct.pack("<IQQIQ", 2, hidden, vocab_size, 0, 0)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, len(metadata)) + kvs + info
    head += b"\0" * (-len(head) % 32)
    data = b"".join(struct.pack("<f", ((i * 7) % 13 - 6) / 10.0) for i in range(hidden * vocab_size))
    return head + data


def model_keys(vocab_size):
    return [("general.architecture", STRING, "llama"), ("llama.context_length", U32, 64),
            ("llama.embedding_length", U32, 8), ("llama.block_count", U32, 2),
            ("llama.feed_forward_length", U32, 16), ("llama.attention.head_count", U32, 2),
            ("llama.attention.head_count_kv", U32, 1), ("llama.rope.freq_base", F32, 10000.0),
            ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5), ("llama.vocab_size", U32, vocab_size)]


def llama_vocab():
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    pieces = ["\u2581", "e", "l", "o", "H", "w", "r", "d", "\u2581w", "ll", "llo", "\u2581H", "or", "orl", "orld"]
    tokens = ["<unk>", "<s>", "</s>"] + byte_tokens + pieces
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(len(pieces))]
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces)
    return tokens, [("tokenizer.ggml.model", STRING, "llama"), ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
                    ("tokenizer.ggml.scores", ARRAY, (F32, scores)), ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
                    ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
                    ("tokenizer.ggml.unknown_token_id", U32, 0), ("tokenizer.ggml.add_bos_token", BOOL, True),
                    ("tokenizer.ggml.add_space_prefix", BOOL, True)]


def gpt2_vocab():
    singles = [chr(c) for c in range(ord("!"), ord("~") + 1)] + ["\u0120"]
    merged = ["\u0120w", "or", "orl", "orld", "ll", "llo", "He", "Hello"]
    tokens = singles + merged + ["<|endoftext|>"]
    merges = ["\u0120 w", "o r", "or l", "orl d", "l l", "ll o", "H e", "He llo"]
    types = [1] * (len(tokens) - 1) + [3]
    return tokens, [("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, "gpt-2"),
                    ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)), ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
                    ("tokenizer.ggml.merges", ARRAY, (STRING, merges)),
                    ("tokenizer.ggml.eos_token_id", U32, len(tokens) - 1)]


def imatrix():
    metadata = [("general.type", STRING, "imatrix"), ("imatrix.datasets", ARRAY, (STRING, ["calibration.txt"])),
                ("imatrix.chunk_count", U32, 2), ("imatrix.chunk_size", U32, 8)]
    kvs = b"".join(string(k) + struct.pack("<I", kind) + value(kind, v) for k, kind, v in metadata)
    # (name, ggml dims fastest first, values): F32 tensors laid out back to back, 32-byte aligned.
    tensors = [("blk.0.attn_q.weight.in_sum2", (8, 1), [float(i % 5) for i in range(8)]),
               ("blk.0.attn_q.weight.counts", (1, 1), [16.0]),
               ("blk.0.ffn_down_exps.weight.in_sum2", (16, 2), [float(i % 7) / 3 for i in range(32)]),
               ("blk.0.ffn_down_exps.weight.counts", (1, 2), [10.0, 0.0])]
    info, data = b"", b""
    for name, dims, values in tensors:
        info += string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        info += struct.pack("<IQ", 0, len(data))
        data += struct.pack(f"<{len(values)}f", *values)
        data += b"\0" * (-len(data) % 32)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)) + kvs + info
    head += b"\0" * (-len(head) % 32)
    return head + data


def legacy_imatrix():
    """The same two matrices in llama-imatrix's legacy layout: per entry the name, ncall, nval and
    the mean squares times ncall (experts' rows one after another); then the chunk count and the
    dataset's name."""
    entries = [("blk.0.attn_q.weight", 2, [float(i % 5) / 8 for i in range(8)]),
               ("blk.0.ffn_down_exps.weight", 2, [float(i % 7) / 15 for i in range(32)])]
    out = struct.pack("<i", len(entries))
    for name, ncall, values in entries:
        raw = name.encode()
        out += struct.pack("<i", len(raw)) + raw + struct.pack("<ii", ncall, len(values))
        out += struct.pack(f"<{len(values)}f", *values)
    dataset = b"calibration.txt"
    return out + struct.pack("<ii", 2, len(dataset)) + dataset


os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "imatrix.dat"), "wb") as f:
    f.write(legacy_imatrix())
print("wrote", os.path.join(OUT, "imatrix.dat"))
with open(os.path.join(OUT, "imatrix.gguf"), "wb") as f:
    f.write(imatrix())
print("wrote", os.path.join(OUT, "imatrix.gguf"))
for name, (tokens, keys) in (("llama_spm.gguf", llama_vocab()), ("gpt2_bpe.gguf", gpt2_vocab())):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(gguf(model_keys(len(tokens)) + keys, len(tokens)))
    print("wrote", os.path.join(OUT, name))
