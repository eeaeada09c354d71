// Per-job temp dir (code-anchors.md §7 workspace.ts): removed on success, failure and cancel.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Workspace {
  dir: string;
  file(name: string): string;
  dispose(): Promise<void>;
}

export async function createWorkspace(root = tmpdir()): Promise<Workspace> {
  const dir = await mkdtemp(join(root, 'vidshrink-job-'));
  return {
    dir,
    file: (name) => join(dir, name),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
