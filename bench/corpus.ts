// Benchmark corpus (issue #2): real clips from Debian's opencv-doc plus synthesized phone-like footage. Cached in
// .bench/corpus; generated with Debian's ffmpeg, nothing downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DATA = '/usr/share/doc/opencv-doc/examples/data';
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf';

export interface BenchCase {
  name: string;
  path: string;
  /** The size cap the size-mode run asks for. */
  capBytes: number;
  note: string;
  /** Reported apart, not in the corpus totals: content no camera produces, kept to show where the target costs. */
  stress?: boolean;
}

function ff(args: string[]): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`corpus ffmpeg failed: ${r.stderr}`);
}

/** A handheld camera pan over a mosaic of real photographs with temporal sensor noise: stands in for phone video. */
function panGraph(w: number, h: number, fps: number, dur: number, noise: number): string {
  const imgs = ['aloeL.jpg', 'leuvenA.jpg', 'graf1.png', 'ela_original.jpg', 'starry_night.jpg', 'board.jpg'];
  const tiles = imgs.map((_, i) => `[${i}]scale=1100:900,setsar=1[t${i}]`).join(';');
  return (
    `${tiles};${imgs.map((_, i) => `[t${i}]`).join('')}xstack=inputs=6:layout=0_0|w0_0|w0+w1_0|0_h0|w0_h0|w0+w1_h0,` +
    `fps=${fps},format=yuv420p,scale=${Math.round((3300 * w) / 1920)}:-2,` +
    `crop=${w}:${h}:x='(iw-${w})*t/${dur}*0.9+30*sin(2*PI*t*0.7)+40':y='(ih-${h})/2+35*sin(2*PI*t*0.45)',` +
    `noise=c0s=${noise}:c0f=t+u:c1s=${Math.round(noise / 2)}:c1f=t+u:c2s=${Math.round(noise / 2)}:c2f=t+u,format=yuv420p[v]`
  );
}

function photoInputs(): string[] {
  return [
    'aloeL.jpg',
    'leuvenA.jpg',
    'graf1.png',
    'ela_original.jpg',
    'starry_night.jpg',
    'board.jpg',
  ].flatMap((f) => ['-loop', '1', '-i', join(DATA, f)]);
}

function make(dir: string, name: string, build: (tmp: string) => void): string {
  const out = join(dir, name);
  if (!existsSync(out)) {
    const tmp = join(dir, `.tmp-${name}`);
    build(tmp);
    renameSync(tmp, out);
  }
  return out;
}

export function buildCorpus(dir: string): BenchCase[] {
  mkdirSync(dir, { recursive: true });
  const pan = make(dir, 'pan-1080p60-hevc.mov', (t) =>
    ff([
      ...photoInputs(),
      '-f',
      'lavfi',
      '-i',
      'sine=f=440:d=10',
      '-filter_complex',
      panGraph(1920, 1080, 60, 10, 9),
      '-map',
      '[v]',
      '-map',
      '6:a',
      '-t',
      '10',
      '-c:v',
      'libx265',
      '-preset',
      'fast',
      '-b:v',
      '25M',
      '-tag:v',
      'hvc1',
      '-x265-params',
      'log-level=error',
      '-c:a',
      'aac',
      '-b:a',
      '160k',
      '-f',
      'mov',
      t,
    ]),
  );
  const textFile = join(dir, 'screen.txt');
  writeFileSync(
    textFile,
    Array.from(
      { length: 400 },
      (_, i) =>
        `${String(i + 1).padStart(4)}  const frame${i} = encode(plan, step${i % 7});  // ${'why '.repeat(i % 5)}`,
    ).join('\n'),
  );
  const screen = make(dir, 'screen-720p30.mp4', (t) =>
    ff([
      '-f',
      'lavfi',
      '-i',
      'color=c=0xf4f4f4:s=1280x720:r=30:d=12',
      '-f',
      'lavfi',
      '-i',
      'sine=f=220:d=12',
      '-vf',
      `drawbox=x=0:y=0:w=1280:h=36:color=0x2d2d30:t=fill,drawtext=fontfile=${FONT}:textfile=${textFile}:x=24:` +
        `y='48-if(lt(t,2),0,if(lt(t,8),(t-2)*90,540))':fontsize=15:fontcolor=0x202020:line_spacing=4,format=yuv420p`,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '10',
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      '-shortest',
      '-f',
      'mp4',
      t,
    ]),
  );
  const vertical = make(dir, 'vertical-phone-rot90.mp4', (t) => {
    const flat = join(dir, '.vertical-flat.mp4');
    // Coded landscape with a 90° display matrix: how phones store portrait video.
    ff([
      ...photoInputs(),
      '-f',
      'lavfi',
      '-i',
      'sine=f=330:d=8',
      '-filter_complex',
      panGraph(1920, 1080, 30, 8, 7),
      '-map',
      '[v]',
      '-map',
      '6:a',
      '-t',
      '8',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-b:v',
      '16M',
      '-c:a',
      'aac',
      '-b:a',
      '192k',
      flat,
    ]);
    ff(['-i', flat, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', '-f', 'mp4', t]);
  });
  const noAudio = make(dir, 'noaudio-pan-720p30.mp4', (t) =>
    ff([
      ...photoInputs(),
      '-filter_complex',
      panGraph(1280, 720, 30, 10, 5),
      '-map',
      '[v]',
      '-t',
      '10',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-b:v',
      '8M',
      '-f',
      'mp4',
      t,
    ]),
  );
  // Uniform per-pixel noise of amplitude 8 on every plane: far beyond a phone's sensor after its ISP denoiser.
  const noiseStress = make(dir, 'stress-noise-720p30.mp4', (t) =>
    ff([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=s=1280x720:r=30:d=10,noise=alls=8:allf=t+u,format=yuv420p',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '12',
      '-f',
      'mp4',
      t,
    ]),
  );
  const hdr = make(dir, 'hdr-hlg-10bit.mov', (t) =>
    ff([
      ...photoInputs(),
      '-filter_complex',
      panGraph(1920, 1080, 30, 6, 6).replace('format=yuv420p[v]', 'format=yuv420p10le[v]'),
      '-map',
      '[v]',
      '-t',
      '6',
      '-c:v',
      'libx265',
      '-preset',
      'fast',
      '-b:v',
      '20M',
      '-tag:v',
      'hvc1',
      '-pix_fmt',
      'yuv420p10le',
      '-x265-params',
      'log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc',
      '-color_primaries',
      'bt2020',
      '-color_trc',
      'arib-std-b67',
      '-colorspace',
      'bt2020nc',
      '-f',
      'mov',
      t,
    ]),
  );
  return [
    {
      name: 'vtest (real CCTV, 768×576 10 fps, 79.5 s)',
      path: join(DATA, 'vtest.avi'),
      capBytes: 3_000_000,
      note: 'opencv-doc',
    },
    {
      name: 'Megamind (real, 720×528 24 fps + AC-3, 11 s)',
      path: join(DATA, 'Megamind.avi'),
      capBytes: 1_000_000,
      note: 'opencv-doc',
    },
    {
      name: 'camera pan 1080p60 HEVC 25 Mb/s MOV, 10 s',
      path: pan,
      capBytes: 4_000_000,
      note: 'synthetic phone',
    },
    { name: 'screen recording 720p30, 12 s', path: screen, capBytes: 600_000, note: 'synthetic' },
    {
      name: 'vertical phone clip (rotate 90) 1080×1920 30 fps, 8 s',
      path: vertical,
      capBytes: 4_000_000,
      note: 'synthetic phone',
    },
    {
      name: 'no audio: camera pan 720p30, 10 s',
      path: noAudio,
      capBytes: 2_000_000,
      note: 'synthetic phone',
    },
    { name: 'HDR HLG 10-bit HEVC 1080p30, 6 s', path: hdr, capBytes: 2_500_000, note: 'synthetic phone' },
    {
      name: 'stress: testsrc2 + uniform noise 8, 720p30, 10 s',
      path: noiseStress,
      capBytes: 2_000_000,
      note: 'synthetic stress',
      stress: true,
    },
  ];
}
