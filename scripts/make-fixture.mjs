#!/usr/bin/env node
// Makes deterministic test files on demand (not committed).
//   node scripts/make-fixture.mjs <size> [out] [--seed N]
//   node scripts/make-fixture.mjs 256m fixtures/generated/big.bin
// Size takes the units mobget does (512, 20k, 1m, 2g). The same size and
// seed give the same bytes on every machine (xorshift128+ stream), so a
// SHA-256 can be quoted in docs and tests.
import * as fs from 'node:fs';
import * as path from 'node:path';

function parseSize(t) {
  const m = /^(\d+)([kmg]?)$/i.exec(t);
  if (!m) throw new Error(`not a size: ${t}`);
  return Number(m[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()];
}

/** Writes `size` pseudo-random bytes from `seed` to `out`. */
export function makeFixture(out, size, seed = 1) {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const fd = fs.openSync(out, 'w');
  let s0 = BigInt(seed) | 1n;
  let s1 = 0x9e3779b97f4a7c15n;
  const mask = (1n << 64n) - 1n;
  const block = Buffer.allocUnsafe(1 << 20);
  let left = size;
  try {
    while (left > 0) {
      const n = Math.min(block.length, left);
      for (let i = 0; i < n; i += 8) {
        let x = s0;
        const y = s1;
        s0 = y;
        x = (x ^ (x << 23n)) & mask;
        s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
        block.writeBigUInt64LE((s1 + y) & mask, i);
      }
      fs.writeSync(fd, block, 0, n);
      left -= n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const seedAt = args.indexOf('--seed');
  const seed = seedAt === -1 ? 1 : Number(args.splice(seedAt, 2)[1]);
  const [sizeText, out] = args;
  if (!sizeText) {
    console.error('usage: make-fixture.mjs <size> [out] [--seed N]');
    process.exit(2);
  }
  const size = parseSize(sizeText);
  const target = out ?? path.join('fixtures', 'generated', `random-${sizeText}.bin`);
  makeFixture(target, size, seed);
  console.log(`${target} ${size} bytes (seed ${seed})`);
}
