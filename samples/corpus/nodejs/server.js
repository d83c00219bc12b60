// GET /            -> "ok"
// PUT /kv/KEY      -> stores the body in /data/KEY (atomically: temp file + rename)
// GET /kv/KEY      -> the body back (gzip if asked), 404 if absent
// GET /sha/KEY     -> sha256 of the stored body
// GET /via-localhost/KEY -> fetches /sha/KEY from this server through http://localhost
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const zlib = require('zlib');
const port = Number(process.env.PORT || 3000);
const dir = '/data';
let seq = 0;

function key(p) { const k = decodeURIComponent(p); if (!/^[\w.-]+$/.test(k)) throw new Error('bad key'); return path.join(dir, k); }

const server = http.createServer((req, res) => {
  const [, route, k] = req.url.split('/');
  const fail = (code, e) => { res.writeHead(code, {'content-type': 'text/plain'}); res.end(String(e) + '\n'); };
  try {
    if (req.url === '/') { res.end('ok\n'); return; }
    if (route === 'kv' && req.method === 'PUT') {
      const file = key(k), tmp = `${file}.${process.pid}.${++seq}.tmp`;
      const out = fs.createWriteStream(tmp);
      req.pipe(out);
      out.on('finish', () => fs.rename(tmp, file, (e) => e ? fail(500, e) : res.end('stored\n')));
      out.on('error', (e) => fail(500, e));
      return;
    }
    if (route === 'kv') {
      const file = key(k);
      fs.stat(file, (e) => {
        if (e) return fail(404, 'no such key');
        const src = fs.createReadStream(file);
        if (/\bgzip\b/.test(req.headers['accept-encoding'] || '')) {
          res.writeHead(200, {'content-encoding': 'gzip'}); src.pipe(zlib.createGzip()).pipe(res);
        } else { res.writeHead(200); src.pipe(res); }
      });
      return;
    }
    if (route === 'sha') {
      const h = crypto.createHash('sha256');
      fs.createReadStream(key(k)).on('error', (e) => fail(404, e)).on('data', (d) => h.update(d))
        .on('end', () => res.end(h.digest('hex') + '\n'));
      return;
    }
    if (route === 'via-localhost') {
      http.get({host: 'localhost', port, path: `/sha/${k}`}, (r) => {
        let body = ''; r.on('data', (d) => body += d); r.on('end', () => res.end(body));
      }).on('error', (e) => fail(502, e));
      return;
    }
    fail(404, 'no route');
  } catch (e) { fail(400, e); }
});
server.listen(port, () => console.log(`listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
