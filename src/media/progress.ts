// Parses ffmpeg's `-progress pipe:1` key=value blocks (code-anchors.md §8.2), not the \r-separated stats line.
// Pure: fed one line at a time, returns a sample at the end of each block.

export interface ProgressSample {
  frame: number | null;
  outTimeSec: number | null;
  totalSizeBytes: number | null;
  speed: number | null;
  end: boolean;
}

export class ProgressParser {
  private block = new Map<string, string>();

  /** Feed a line; returns a sample when the line closes a block (`progress=continue|end`). */
  push(line: string): ProgressSample | null {
    const eq = line.indexOf('=');
    if (eq <= 0) return null;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key !== 'progress') {
      this.block.set(key, value);
      return null;
    }
    const b = this.block;
    this.block = new Map();
    // out_time_us is microseconds; out_time_ms is also microseconds in ffmpeg < 7 (a long-standing naming bug).
    const us = num(b.get('out_time_us')) ?? num(b.get('out_time_ms'));
    const speedText = b.get('speed');
    return {
      frame: num(b.get('frame')),
      outTimeSec: us === null || us < 0 ? null : us / 1e6,
      totalSizeBytes: num(b.get('total_size')),
      speed: speedText === undefined ? null : num(speedText.replace(/x$/, '')),
      end: value === 'end',
    };
  }
}

function num(v: string | undefined): number | null {
  if (v === undefined || v === 'N/A' || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}
