#!/usr/bin/env node
// The baseline: what a Node user would write to serve files with Range
// support, with node:http and fs.createReadStream. No ledger, no digest.
//   node scripts/bench/node-http-baseline.mjs --port 0 --root DIR
// prints "listening on http://127.0.0.1:PORT".
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
};
const root = path.resolve(arg('--root', '.'));
const port = Number(arg('--port', '8080'));

const server = http.createServer((req, res) => {
  const file = path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (!file.startsWith(root + path.sep)) {
    res.writeHead(403).end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404).end();
      return;
    }
    const size = st.size;
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m || (m[1] === '' && m[2] === '')) {
      res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' });
      fs.createReadStream(file).pipe(res);
      return;
    }
    // bytes=a-b, bytes=a-, bytes=-n (suffix)
    let start = m[1] === '' ? Math.max(0, size - Number(m[2])) : Number(m[1]);
    let end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start >= size || start > end) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, {
      'Content-Length': end - start + 1,
      'Content-Range': `bytes ${start}-${end}/${size}`,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
    });
    fs.createReadStream(file, { start, end }).pipe(res);
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
