// Pairs, truncation (stride, strategies, directions) and padding through the real HF tokenizers.
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@anush008/tokenizers');
const S = '/work/shared/tokenizers/models';
const pack = (e) => ({ ids: e.getIds(), type_ids: e.getTypeIds(), tokens: e.getTokens(), offsets: e.getOffsets(),
  special: e.getSpecialTokensMask(), attention: e.getAttentionMask(),
  overflowing: e.getOverflowing().map((o) => ({ ids: o.getIds(), type_ids: o.getTypeIds() })) });
const A = "The quick brown fox jumps over the lazy dog. Naïve café, résumé! 12345";
const B = "Pack my box with five dozen liquor jugs? Ünïcödé 中文";
const out = [];
const run = async (f) => { try { return pack(await f()); } catch (e) { return { error: String(e.message || e) }; } };
for (const fam of ['bert', 'roberta', 'llama2', 'gpt2', 't5']) {
  const mk = () => Tokenizer.fromFile(`${S}/${fam}/tokenizer.json`);
  let tok = mk();
  out.push({ fam, case: 'pair', r: await run(() => tok.encode(A, B, { addSpecialTokens: true })) });
  for (const [strategy, direction, max, stride] of [['LongestFirst', 'right', 12, 0], ['LongestFirst', 'right', 10, 3], ['LongestFirst', 'left', 10, 2], ['OnlyFirst', 'right', 16, 0], ['OnlySecond', 'right', 20, 0]]) {
    tok = mk();
    tok.setTruncation(max, { strategy, direction, stride });
    if (strategy === 'LongestFirst') out.push({ fam, case: 'single', strategy, direction, max, stride, r: await run(() => tok.encode(A, null, { addSpecialTokens: true })) });
    if (stride === 0) out.push({ fam, case: 'pair', strategy, direction, max, stride, r: await run(() => tok.encode(A, B, { addSpecialTokens: true })) });
  }
}
for (const line of out) process.stdout.write(JSON.stringify(line) + '\n');
