# The reference values of tests/ops/bnb_blocks_test.cpp (DynamicCodeBookIsBitsandbytes): bitsandbytes'
# create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), written from its algorithm, on
# real PyTorch f32 (Debian's python3-torch 1.13): /usr/bin/python3 bnb_dynamic_map.py
import torch, struct
data = []
for i in range(7):
    b = torch.linspace(0.1, 1, 2 ** i + 1)
    means = (b[:-1] + b[1:]) / 2.0
    data += ((10 ** (-6 + i)) * means).tolist()
    data += (-(10 ** (-6 + i)) * means).tolist()
data.append(0); data.append(1.0)
data.sort()
t = torch.Tensor(data)
print(torch.__version__)
for i in (0, 1, 63, 64, 100, 126, 127, 128, 131, 137, 159, 190, 191, 223, 253, 254, 255):
    print(i, repr(t[i].item()))
print(sum(abs(x) for x in t.tolist()), sum(x * x for x in t.tolist()))
# --table: the 256 values as the C++ initializer in ops/cpu/bnb_blocks.cpp (kDynamicCode).
import sys
if "--table" in sys.argv:
    def literal(x):
        v = "%.9g" % x
        return (v if any(c in v for c in ".e") else v + ".0") + "f"
    vals = [literal(x) for x in t.tolist()]
    for r in range(0, 256, 6):
        print("    " + ", ".join(vals[r:r + 6]) + ",")
