// `npm run bench` (issue #2): vidshrink vs bare ffmpeg two-pass vs fixed CRF 23, in the same run, on the corpus.
// Quality is measured on the source's geometry (outputs scaled back, frame rate restored), SSIM-Y and PSNR-Y.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { emptyIntent, type Intent } from '../src/domain/intent.js';
import type { JobResult } from '../src/domain/events.js';
import type { MediaInfo } from '../src/domain/media-info.js';
import { probe } from '../src/media/ffprobe.js';
import { runJob } from '../src/pipeline/run-job.js';
import { QUALITY_TARGETS, requiredDb, ssimToDb } from '../src/planning/quality.js';
import { tonemapFilters } from '../src/argv/filters.js';
import { buildCorpus, type BenchCase } from './corpus.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WORK = join(ROOT, '.bench');

function ff(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${args.join(' ')}\n${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

interface Score {
  ssim: number;
  ssimDb: number;
  psnrDb: number;
}

/** SSIM-Y/PSNR-Y of `out` against the source at the source's displayed geometry and frame rate. */
/**
 * `tonemapRef`: the reference is the source tonemapped to SDR (what vidshrink is asked to deliver). `tonemapOut`: the
 * output is tonemapped by the same chain too, for a peer that kept HLG/PQ: both then compare what an SDR screen shows.
 */
function score(out: string, src: MediaInfo, opts: { tonemapRef: boolean; tonemapOut?: boolean }): Score {
  const v = src.video;
  if (!v) throw new Error('no video');
  // Both sides resampled to the source's rate by timestamp (restores a lowered frame rate, absorbs a peer's CFR
  // duplicates), then paired by frame index: timestamp pairing misaligned AVI sources by a frame.
  const rate = `fps=${v.fps}`;
  const index = 'setpts=N/(25*TB)';
  const ref = [
    ...(opts.tonemapRef && v.hdr ? tonemapFilters(v.hdr) : []),
    'format=yuv420p',
    'setsar=1',
    rate,
    index,
  ].join(',');
  const dist = [
    ...(opts.tonemapOut === true && v.hdr ? tonemapFilters(v.hdr) : []),
    `scale=${v.displayWidth}:${v.displayHeight}:flags=bicubic`,
    'format=yuv420p',
    'setsar=1',
    rate,
    index,
  ].join(',');
  const r = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-i',
      out,
      '-i',
      src.path,
      '-filter_complex',
      `[0:v]${dist}[d];[1:v]${ref}[r];[d]split[d1][d2];[r]split[r1][r2];[d1][r1]ssim=shortest=1;[d2][r2]psnr=shortest=1`,
      '-f',
      'null',
      '-',
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const ssim = Number(/SSIM Y:([0-9.]+)/.exec(r.stderr)?.[1]);
  const psnr = Number(/PSNR y:([0-9.]+)/.exec(r.stderr)?.[1]);
  return { ssim, ssimDb: ssimToDb(ssim), psnrDb: psnr };
}

async function vidshrink(
  input: string,
  intent: Intent,
  output: string,
): Promise<{ result: JobResult; sec: number }> {
  const t0 = performance.now();
  let result: JobResult | null = null;
  for await (const e of runJob({ input, intent, output })) {
    if (e.type === 'done') result = e.result;
    if (e.type === 'error')
      throw new Error(`vidshrink failed on ${input}: ${e.error.code} ${e.error.message}`);
  }
  if (!result) throw new Error('no result');
  return { result, sec: (performance.now() - t0) / 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

interface Row {
  name: string;
  stress: boolean;
  cap: number;
  vsSize: number;
  vsSsim: number;
  vsSec: number;
  vsShape: string;
  bareSize: number;
  bareSsim: number;
  /** HDR sources only: the peer's HLG/PQ output and the source both tonemapped, as on an SDR screen. */
  bareSsimSdr: number | null;
  /**
   * HDR sources only: the peer asked for what vidshrink delivers, SDR (the same tonemap chain as `-vf` in both
   * passes), scored against the same reference as vidshrink's output.
   */
  bareToSdr: { size: number; ssim: number; sec: number } | null;
  /**
   * When the peer lands over the cap: what a user of bare ffmpeg does next, as ffmpeg4discord does (bitrate × cap/size,
   * again until it fits). `sec` counts every attempt, the first included.
   */
  bareCapped: { size: number; ssim: number; attempts: number; sec: number } | null;
  bareSec: number;
  /** Median over the interleaved rounds of (vidshrink's time / the peer's time in the same round). */
  pairedRatio: number;
  rounds: number;
  qSize: number;
  qSsimDb: number;
  qRequired: number;
  qShape: string;
  crfSize: number;
  crfSsimDb: number;
}

async function runCase(c: BenchCase, dir: string): Promise<Row> {
  const src = await probe(c.path);
  const v = src.video;
  if (!v) throw new Error('no video');
  const hasAudio = src.audio.length > 0;
  const dur = src.durationSec;
  // --- bare two-pass (the peer): bitrate = cap·8/duration − audio, x264 medium, AAC 128k.
  const audioKbps = hasAudio ? 128 : 0;
  const kbps = Math.floor((c.capBytes * 8) / dur / 1000 - audioKbps);
  const bare = join(dir, 'bare.mp4');
  const log = join(dir, 'bare2p');
  // -fps_mode cfr in both passes: MP4 output is CFR, and pass 1 into the null muxer would otherwise pass frames through;
  // the frame counts then differ and x264 refuses pass 2 ("Incomplete MB-tree stats file" on Megamind.avi).
  // Both peers: the source straight into x264 medium, as a user of bare ffmpeg runs it.
  const x264Medium = ['-i', c.path, '-c:v', 'libx264', '-preset', 'medium'];
  const twoPass = (videoKbps: number, out: string, vf: string[] = [], tags: string[] = []): number => {
    const common = [...x264Medium, '-b:v', `${videoKbps}k`, '-passlogfile', log, '-fps_mode', 'cfr', ...vf];
    const audio = hasAudio ? ['-c:a', 'aac', '-b:a', '128k'] : ['-an'];
    return (
      ff([...common, '-pass', '1', '-an', '-f', 'null', '/dev/null']) +
      ff([...common, ...tags, '-pass', '2', ...audio, out])
    );
  };
  const runBare = (): number => twoPass(kbps, bare);
  // --- HDR only: the same two-pass told to tonemap like vidshrink, so both deliver SDR and share one reference.
  let bareToSdr: Row['bareToSdr'] = null;
  if (v.hdr) {
    const sdr = join(dir, 'bare-sdr.mp4');
    const vf = ['-vf', [...tonemapFilters(v.hdr), 'format=yuv420p'].join(',')];
    const tags = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709'];
    const runSdr = (): number => twoPass(kbps, sdr, vf, tags);
    const sec = Math.min(runSdr(), runSdr());
    bareToSdr = { size: statSync(sdr).size, ssim: score(sdr, src, { tonemapRef: true }).ssim, sec };
  }
  // --- fixed CRF 23 (the other peer).
  const crf = join(dir, 'crf23.mp4');
  ff([...x264Medium, '-crf', '23', ...(hasAudio ? ['-c:a', 'aac'] : ['-an']), crf]);
  // --- vidshrink, size mode and quality-first mode.
  const vsOut = join(dir, 'vs-size.mp4');
  // Wall time: each side at least twice, interleaved, the faster run counted. One run each let any background load (a
  // CI job, a test suite) land on one side only and swing the ratio from 0.8× to 1.3× on the same code (BENCHMARKS.md).
  const runSize = () => vidshrink(c.path, { ...emptyIntent(), maxBytes: c.capBytes }, vsOut);
  let bareSec = runBare();
  let size = await runSize();
  // Each round's own ratio too: the VM's speed drifts by a third over minutes (the peer's pass 1 took 1.45 s, then
  // 2.1 s, in one hour), and a round's two runs, seconds apart, see the same machine; their median ratio is steadier
  // than a ratio of minima taken from different rounds.
  const paired = [size.sec / bareSec];
  // Clips that encode in a few seconds swing most with the VM's background (the screen recording's peer took 2.9 s in
  // one full run and 3.8 s in another): they get a third interleaved round, still cheap. Below 5 s, five: with three,
  // the same code measured 1.21×, 1.27× and 1.43× on the screen recording in three runs (BENCHMARKS.md, "Ninth
  // session").
  const rounds = bareSec < 5 ? 5 : bareSec < 10 ? 3 : 2;
  for (let i = 1; i < rounds; i++) {
    const bareAgain = runBare();
    bareSec = Math.min(bareSec, bareAgain);
    const again = await runSize();
    paired.push(again.sec / bareAgain);
    if (again.sec <= size.sec) size = again;
  }
  let bareCapped: Row['bareCapped'] = null;
  if (statSync(bare).size > c.capBytes) {
    const capped = join(dir, 'bare-capped.mp4');
    let rate = kbps;
    let got = statSync(bare).size;
    let sec = bareSec;
    let attempts = 1;
    while (got > c.capBytes && attempts < 4) {
      rate = Math.floor((rate * c.capBytes) / got);
      sec += twoPass(rate, capped);
      got = statSync(capped).size;
      attempts++;
    }
    bareCapped = { size: got, ssim: score(capped, src, { tonemapRef: false }).ssim, attempts, sec };
  }
  const qOut = join(dir, 'vs-quality.mp4');
  const quality = await vidshrink(c.path, { ...emptyIntent(), quality: 'high' }, qOut);
  // The documented target, judged on the whole clip: the near-transparent reference encode, then requiredDb.
  const ref = join(dir, 'ref.mp4');
  const qv = quality.result.plan.video;
  const scaleArgs =
    qv.mode === 'encode'
      ? [
          '-vf',
          [
            ...(qv.tonemap ? tonemapFilters(qv.tonemap) : []),
            `scale=${qv.width}:${qv.height}:flags=lanczos`,
            'format=yuv420p',
          ].join(','),
        ]
      : [];
  ff(['-i', c.path, ...scaleArgs, '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '16', ref]);
  const refScore = score(ref, src, { tonemapRef: true });
  const qScore = score(qOut, src, { tonemapRef: true });
  const shape = (r: JobResult): string => `${r.width}×${r.height}@${Math.round(r.fps)}`;
  return {
    name: c.name,
    stress: c.stress === true,
    cap: c.capBytes,
    vsSize: statSync(vsOut).size,
    vsSsim: score(vsOut, src, { tonemapRef: true }).ssim,
    vsSec: size.sec,
    vsShape: shape(size.result),
    bareSize: statSync(bare).size,
    bareSsim: score(bare, src, { tonemapRef: false }).ssim,
    bareSsimSdr: v.hdr ? score(bare, src, { tonemapRef: true, tonemapOut: true }).ssim : null,
    bareToSdr,
    bareCapped,
    bareSec,
    pairedRatio: median(paired),
    rounds,
    qSize: statSync(qOut).size,
    qSsimDb: qScore.ssimDb,
    qRequired: requiredDb(QUALITY_TARGETS.high, refScore.ssimDb),
    qShape: shape(quality.result),
    crfSize: statSync(crf).size,
    crfSsimDb: score(crf, src, { tonemapRef: false }).ssimDb,
  };
}

function table(all: Row[]): string {
  const rows = all.filter((r) => !r.stress);
  const stress = all.filter((r) => r.stress);
  const f = (x: number, d = 3): string => x.toFixed(d);
  const lines = [
    '### Size cap: vidshrink vs bare ffmpeg two-pass (x264 medium, bitrate = cap·8/duration − 128k)',
    '',
    '| case | cap | vidshrink size/cap | bare size/cap | vidshrink SSIM | bare SSIM | vidshrink shape | time ratio (vidshrink/bare), fastest runs | time ratio, median of rounds |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${(r.cap / 1e6).toFixed(1)} MB | ${f(r.vsSize / r.cap, 4)} | ${f(r.bareSize / r.cap, 4)} | ${f(r.vsSsim, 4)} | ${f(r.bareSsim, 4)} | ${r.vsShape} | ${f(r.vsSec / r.bareSec, 2)} (${f(r.vsSec, 1)} s / ${f(r.bareSec, 1)} s) | ${f(r.pairedRatio, 2)} (${r.rounds} rounds) |`,
    ),
    '',
    '### Quality first ("without losing quality") vs fixed CRF 23',
    '',
    '| case | vidshrink bytes | CRF 23 bytes | ratio | vidshrink SSIM-Y dB | required (target) | meets target | CRF 23 SSIM-Y dB | shape |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.qSize} | ${r.crfSize} | ${f(r.qSize / r.crfSize, 3)} | ${f(r.qSsimDb, 2)} | ${f(r.qRequired, 2)} | ${r.qSsimDb >= r.qRequired - 0.15 ? 'yes' : 'no'} | ${f(r.crfSsimDb, 2)} | ${r.qShape} |`,
    ),
  ];
  const totQ = rows.reduce((s, r) => s + r.qSize, 0);
  const totC = rows.reduce((s, r) => s + r.crfSize, 0);
  lines.push(
    '',
    `Total bytes, quality-first vs CRF 23: ${totQ} / ${totC} = **${(totQ / totC).toFixed(3)}×**.`,
  );
  const worstFill = Math.min(...rows.map((r) => r.vsSize / r.cap));
  const over = rows.filter((r) => r.vsSize > r.cap).length;
  const ssimWins = rows.filter((r) => r.vsSsim >= r.bareSsim).length;
  const maxTime = Math.max(...rows.map((r) => r.vsSec / r.bareSec));
  const maxPaired = Math.max(...rows.map((r) => r.pairedRatio));
  lines.push(
    `Size: lowest fill ${worstFill.toFixed(4)}, over the cap ${over}/${rows.length}; SSIM ≥ bare on ${ssimWins}/${rows.length}; worst time ratio ${maxTime.toFixed(2)}× (fastest runs), ${maxPaired.toFixed(2)}× (median of rounds).`,
  );
  for (const r of rows) {
    if (r.bareSsimSdr === null) continue;
    lines.push(
      '',
      `${r.name}: the bare SSIM above compares its HLG/PQ output with the HDR source; with both tonemapped by the same chain (what an SDR screen shows, vidshrink's reference) the bare output scores ${f(r.bareSsimSdr, 4)} against vidshrink's ${f(r.vsSsim, 4)}.`,
    );
    const sdr = r.bareToSdr;
    if (sdr)
      lines.push(
        '',
        `${r.name}, like for like: bare two-pass told to deliver SDR (vidshrink's tonemap chain as \`-vf\` in both passes): size ${f(sdr.size / r.cap, 4)} of cap, SSIM ${f(sdr.ssim, 4)} against vidshrink's ${f(r.vsSsim, 4)} on the same reference, time ratio ${f(r.vsSec / sdr.sec, 2)} (${f(r.vsSec, 1)} s / ${f(sdr.sec, 1)} s).`,
      );
  }
  for (const r of rows) {
    const c = r.bareCapped;
    if (!c) continue;
    lines.push(
      '',
      `${r.name}: the bare file is over the cap; re-run as ffmpeg4discord does (bitrate × cap/size until it fits) it ${c.size <= r.cap ? 'fits' : 'is still over'} at ${f(c.size / r.cap, 4)} of the cap after ${c.attempts} attempts, SSIM ${f(c.ssim, 4)} against vidshrink's ${f(r.vsSsim, 4)}, time ratio ${f(r.vsSec / c.sec, 2)} (${f(r.vsSec, 1)} s / ${f(c.sec, 1)} s).`,
    );
  }
  for (const r of stress) {
    lines.push(
      '',
      `Stress case (not in the totals) — ${r.name}: size ${f(r.vsSize / r.cap, 4)} of cap (bare ${f(r.bareSize / r.cap, 4)}), SSIM ${f(r.vsSsim, 4)} vs ${f(r.bareSsim, 4)}, time ${f(r.vsSec / r.bareSec, 2)}×; quality-first ${r.qSize} B vs CRF 23 ${r.crfSize} B (${f(r.qSize / r.crfSize, 2)}×), SSIM-Y ${f(r.qSsimDb, 2)} dB vs required ${f(r.qRequired, 2)}.`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const corpusDir = join(WORK, 'corpus');
  console.error('[bench] building corpus in .bench/corpus (cached)');
  const cases = buildCorpus(corpusDir);
  const only = process.argv[2];
  const rows: Row[] = [];
  for (const c of cases) {
    if (only && !c.name.toLowerCase().includes(only.toLowerCase())) continue;
    const dir = join(WORK, 'out', c.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase());
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    console.error(`[bench] ${c.name}`);
    const row = await runCase(c, dir);
    console.error(
      `  size ${(row.vsSize / row.cap).toFixed(4)} of cap (bare ${(row.bareSize / row.cap).toFixed(4)}), SSIM ${row.vsSsim.toFixed(4)} vs ${row.bareSsim.toFixed(4)}, time ${(row.vsSec / row.bareSec).toFixed(2)}× (rounds: median ${row.pairedRatio.toFixed(2)}×); quality ${row.qSize} vs CRF23 ${row.crfSize}`,
    );
    rows.push(row);
  }
  const md = table(rows);
  writeFileSync(join(WORK, 'results.md'), md + '\n');
  writeFileSync(join(WORK, 'results.json'), JSON.stringify(rows, null, 2));
  console.log(md);
}

await main();
