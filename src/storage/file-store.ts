// Files on disk under random ids (issue #4): <filesDir>/<first two chars>/<id><ext>. Names users chose never become
// paths; they live only in the database as display names.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileStorePort } from '../conversation/engine.js';

export function localFileStore(filesDir: string): FileStorePort {
  return {
    async pathFor(id, ext) {
      if (!/^[A-Za-z0-9_-]{16,64}$/u.test(id) || !/^(\.[a-z0-9]{1,5})?$/u.test(ext)) {
        throw new Error('bad file id');
      }
      const dir = join(filesDir, id.slice(0, 2));
      await mkdir(dir, { recursive: true });
      return join(dir, `${id}${ext}`);
    },
    async remove(path) {
      if (!path.startsWith(filesDir)) return;
      await rm(path, { force: true });
    },
  };
}
