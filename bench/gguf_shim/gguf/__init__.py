"""A minimal stand-in for llama.cpp's gguf-py (the `gguf` package), enough for
../shared/tools/peer-bench/st2gguf.py to write F32 and F16 files: GGUFWriter with the add_* keys
that converter uses, the enums it names, and GGUF v3 layout (little-endian header, key/values,
tensor infos with reversed dims, data aligned to 32 bytes). st2gguf.py puts the real gguf-py
first on sys.path, so where that bundle exists it wins; this one is only found through
PYTHONPATH (bench/race_llama_cpp.py sets it). Quantized outtypes (q8_0, q4_0) need the real one.
"""
import enum
import struct

import numpy as np

GGUF_MAGIC = 0x46554747  # "GGUF"
GGUF_VERSION = 3
GGUF_DEFAULT_ALIGNMENT = 32
GGML_QUANT_VERSION = 2


class GGMLQuantizationType(enum.IntEnum):
    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q8_0 = 8
    BF16 = 30


class LlamaFileType(enum.IntEnum):
    ALL_F32 = 0
    MOSTLY_F16 = 1
    MOSTLY_Q4_0 = 2
    MOSTLY_Q8_0 = 7
    MOSTLY_BF16 = 32


class RopeScalingType(enum.Enum):
    NONE = "none"
    LINEAR = "linear"
    YARN = "yarn"


class GGUFValueType(enum.IntEnum):
    UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)


_PACK = {GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i", GGUFValueType.FLOAT32: "<f",
         GGUFValueType.BOOL: "<?", GGUFValueType.UINT64: "<Q"}


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, value, item_type=None):
    if vtype == GGUFValueType.STRING:
        return _string(value)
    if vtype == GGUFValueType.ARRAY:
        out = struct.pack("<IQ", item_type, len(value))
        if item_type == GGUFValueType.STRING:
            return out + b"".join(_string(v) for v in value)
        return out + np.asarray(value, dtype=np.dtype(_PACK[item_type])).tobytes()
    return struct.pack(_PACK[vtype], value)


class _Quants:
    @staticmethod
    def quantize(data, qtype):
        raise NotImplementedError("bench/gguf_shim writes F32 and F16 only; quantized types need llama.cpp's gguf-py")


quants = _Quants()


def quant_shape_to_byte_shape(shape, qtype):
    raise NotImplementedError("bench/gguf_shim writes F32 and F16 only")


class GGUFWriter:
    _TENSOR_TYPE = {np.dtype(np.float32): GGMLQuantizationType.F32, np.dtype(np.float16): GGMLQuantizationType.F16}

    def __init__(self, path, arch):
        self.path, self.arch = path, arch
        self.kv = []  # (key, bytes of type + value)
        self.tensors = []  # (name, shape, ggml type, nbytes)
        self.fout = None
        self.add_string("general.architecture", arch)

    # -- key/values
    def _add(self, key, vtype, value, item_type=None):
        body = struct.pack("<I", vtype) + _value(vtype, value, item_type)
        self.kv.append((key, body))

    def add_string(self, key, v): self._add(key, GGUFValueType.STRING, v)
    def add_uint32(self, key, v): self._add(key, GGUFValueType.UINT32, int(v))
    def add_float32(self, key, v): self._add(key, GGUFValueType.FLOAT32, float(v))
    def add_bool(self, key, v): self._add(key, GGUFValueType.BOOL, bool(v))
    def add_array(self, key, items, item_type): self._add(key, GGUFValueType.ARRAY, list(items), item_type)

    def add_name(self, v): self.add_string("general.name", v)
    def add_file_type(self, v): self.add_uint32("general.file_type", v)
    def add_quantization_version(self, v): self.add_uint32("general.quantization_version", v)
    def add_block_count(self, v): self.add_uint32(f"{self.arch}.block_count", v)
    def add_context_length(self, v): self.add_uint32(f"{self.arch}.context_length", v)
    def add_embedding_length(self, v): self.add_uint32(f"{self.arch}.embedding_length", v)
    def add_feed_forward_length(self, v): self.add_uint32(f"{self.arch}.feed_forward_length", v)
    def add_head_count(self, v): self.add_uint32(f"{self.arch}.attention.head_count", v)
    def add_head_count_kv(self, v): self.add_uint32(f"{self.arch}.attention.head_count_kv", v)
    def add_key_length(self, v): self.add_uint32(f"{self.arch}.attention.key_length", v)
    def add_value_length(self, v): self.add_uint32(f"{self.arch}.attention.value_length", v)
    def add_layer_norm_rms_eps(self, v): self.add_float32(f"{self.arch}.attention.layer_norm_rms_epsilon", v)
    def add_sliding_window(self, v): self.add_uint32(f"{self.arch}.attention.sliding_window", v)
    def add_rope_freq_base(self, v): self.add_float32(f"{self.arch}.rope.freq_base", v)
    def add_rope_dimension_count(self, v): self.add_uint32(f"{self.arch}.rope.dimension_count", v)
    def add_rope_scaling_type(self, v): self.add_string(f"{self.arch}.rope.scaling.type", v.value)
    def add_rope_scaling_factor(self, v): self.add_float32(f"{self.arch}.rope.scaling.factor", v)
    def add_final_logit_softcapping(self, v): self.add_float32(f"{self.arch}.final_logit_softcapping", v)
    def add_vocab_size(self, v): self.add_uint32(f"{self.arch}.vocab_size", v)
    def add_expert_count(self, v): self.add_uint32(f"{self.arch}.expert_count", v)
    def add_expert_used_count(self, v): self.add_uint32(f"{self.arch}.expert_used_count", v)
    def add_expert_feed_forward_length(self, v): self.add_uint32(f"{self.arch}.expert_feed_forward_length", v)
    def add_tokenizer_model(self, v): self.add_string("tokenizer.ggml.model", v)
    def add_tokenizer_pre(self, v): self.add_string("tokenizer.ggml.pre", v)
    def add_token_list(self, v): self.add_array("tokenizer.ggml.tokens", v, GGUFValueType.STRING)
    def add_token_scores(self, v): self.add_array("tokenizer.ggml.scores", v, GGUFValueType.FLOAT32)
    def add_token_types(self, v): self.add_array("tokenizer.ggml.token_type", v, GGUFValueType.INT32)
    def add_token_merges(self, v): self.add_array("tokenizer.ggml.merges", v, GGUFValueType.STRING)
    def add_unk_token_id(self, v): self.add_uint32("tokenizer.ggml.unknown_token_id", v)
    def add_bos_token_id(self, v): self.add_uint32("tokenizer.ggml.bos_token_id", v)
    def add_eos_token_id(self, v): self.add_uint32("tokenizer.ggml.eos_token_id", v)
    def add_add_bos_token(self, v): self.add_bool("tokenizer.ggml.add_bos_token", v)
    def add_add_eos_token(self, v): self.add_bool("tokenizer.ggml.add_eos_token", v)

    # -- tensors
    def add_tensor_info(self, name, shape, dtype, nbytes, raw_dtype=None):
        qtype = raw_dtype if raw_dtype is not None else self._TENSOR_TYPE.get(np.dtype(dtype))
        if qtype not in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
            raise NotImplementedError(f"{name}: bench/gguf_shim writes F32 and F16 tensors only")
        self.tensors.append((name, tuple(int(d) for d in shape), qtype, int(nbytes)))

    @staticmethod
    def _pad(n):
        return (GGUF_DEFAULT_ALIGNMENT - n % GGUF_DEFAULT_ALIGNMENT) % GGUF_DEFAULT_ALIGNMENT

    def write_header_to_file(self):
        self.fout = open(self.path, "wb")
        self.fout.write(struct.pack("<IIQQ", GGUF_MAGIC, GGUF_VERSION, len(self.tensors), len(self.kv)))

    def write_kv_data_to_file(self):
        for key, body in self.kv:
            self.fout.write(_string(key) + body)

    def write_ti_data_to_file(self):
        offset = 0
        for name, shape, qtype, nbytes in self.tensors:
            dims = tuple(reversed(shape))  # GGML lists the fastest-varying dimension first
            self.fout.write(_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) +
                            struct.pack("<IQ", qtype, offset))
            offset += nbytes + self._pad(nbytes)
        self.fout.write(b"\0" * self._pad(self.fout.tell()))
        self._next = 0

    def write_tensor_data(self, array):
        name, shape, qtype, nbytes = self.tensors[self._next]
        array = np.ascontiguousarray(array)
        if array.nbytes != nbytes or tuple(array.shape) != shape:
            raise ValueError(f"{name}: data {array.shape} ({array.nbytes} bytes) does not match its info {shape} ({nbytes})")
        self.fout.flush()
        array.tofile(self.fout)
        self.fout.write(b"\0" * self._pad(nbytes))
        self._next += 1

    def close(self):
        if self.fout:
            self.fout.close()
            self.fout = None
