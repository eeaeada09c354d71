// SQLite homes for the NemoVideo backend's memory (issue #6: "keep task_id/session_id in the chat's session row";
// the client id and token in the key-value table, chatbot-anchors §4.9).
import type { Repo } from '../storage/repo.js';
import type { CloudSessionStore } from './nemo-backend.js';
import type { TokenKey, TokenStore } from './nemo/types.js';

export function kvTokenStore(repo: Repo): TokenStore {
  return {
    get: (key: TokenKey) => repo.getKv(key),
    set: (key: TokenKey, value: string) => repo.setKv(key, value),
  };
}

export function sessionRowCloudStore(repo: Repo): CloudSessionStore {
  return {
    get(sessionId) {
      const s = repo.sessionById(sessionId);
      if (!s?.backendSessionId || !s.backendTaskId || s.backend !== 'nemo') return null;
      return { sessionId: s.backendSessionId, taskId: s.backendTaskId };
    },
    set(sessionId, cloud) {
      repo.updateSession(sessionId, {
        backend: cloud ? 'nemo' : 'local',
        backendSessionId: cloud?.sessionId ?? null,
        backendTaskId: cloud?.taskId ?? null,
      });
    },
  };
}
