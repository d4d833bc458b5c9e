// Builds the UI into dist/: one hashed JS bundle and one hashed CSS file under
// dist/assets/, index.html pointing at them, and .gz/.br copies of every text file.
// The Rust crate mlox-ui embeds dist/ (see crates/mlox-ui/build.rs).
import * as esbuild from 'esbuild';
import { readFileSync, writeFileSync, rmSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const root = new URL('.', import.meta.url).pathname;
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: [join(root, 'src/main.jsx')],
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: join(dist, 'assets'),
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

const outputs = Object.keys(result.metafile.outputs).map((p) => '/' + relative(dist, join(process.cwd(), p)));
const js = outputs.find((p) => p.endsWith('.js'));
const css = outputs.find((p) => p.endsWith('.css'));
let html = readFileSync(join(root, 'index.html'), 'utf8');
html = html
  .replace('<!--CSS-->', css ? `<link rel="stylesheet" href="${css}">` : '')
  .replace('<!--JS-->', `<script type="module" src="${js}"></script>`);
writeFileSync(join(dist, 'index.html'), html);

// Precompressed copies, kept only when they save space.
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(js|css|html|svg|json|txt)$/.test(name)) {
      const raw = readFileSync(p);
      const gz = gzipSync(raw, { level: 9 });
      const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
      if (gz.length < raw.length * 0.9) writeFileSync(p + '.gz', gz);
      if (br.length < raw.length * 0.9) writeFileSync(p + '.br', br);
    }
  }
}
walk(dist);
writeFileSync(join(dist, '.stamp'), new Date().toISOString() + '\n');
for (const o of outputs) console.log('built', o, statSync(join(dist, o)).size, 'bytes');
