#!/usr/bin/env node
// Where HF tokenizers' UnicodeScripts pre-tokenizer cuts texts that together hold every Unicode
// code point: the reference for tests/tokenization/unicode_scripts_test.cpp, which builds the same
// texts (see there) and compares its own cuts.
// usage: NODE_PATH=<prefix>/node_modules node unicode_scripts_splits.mjs TOKENIZER_JSON
// output: one line per text, the code-point indices where pieces start, as a JSON array.
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@anush008/tokenizers');

const kChunk = 8192;
const codePoints = [];
for (let c = 1; c <= 0x10ffff; ++c) if (c < 0xd800 || c > 0xdfff) codePoints.push(c);

// mode "run": the code points in order; "latin" / "greek": each one after 'a' / 'α'.
function text(mode, begin, end) {
  let s = '';
  for (let i = begin; i < end; ++i) {
    if (mode === 'latin') s += 'a';
    if (mode === 'greek') s += '\u03b1';
    s += String.fromCodePoint(codePoints[i]);
  }
  return s;
}

const tok = Tokenizer.fromFile(process.argv[2]);
for (const mode of ['run', 'latin', 'greek']) {
  for (let begin = 0; begin < codePoints.length; begin += kChunk) {
    const e = await tok.encode(text(mode, begin, Math.min(begin + kChunk, codePoints.length)), null,
                               { addSpecialTokens: false });
    process.stdout.write(JSON.stringify(e.getOffsets().map((o) => o[0])) + '\n');
  }
}
