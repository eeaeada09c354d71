// The NemoVideo cloud client's public surface (issue #6), for the backend that drives it.
export { NemoClient, type NemoClientOptions } from './client.js';
export { faultToError, interpretResponse, type Fault } from './envelope.js';
export { normalizeRender } from './render.js';
export { normalizeFrame, TurnFilter } from './sse.js';
export { changeSummary, describeTracks, diffDrafts, isExportable, timelineSummary } from './timeline.js';
export { translateGuiTalk, type GuiAction, type GuiActionKind, type Translated } from './translate.js';
export {
  MemoryTokenStore,
  type Credits,
  type Draft,
  type RenderStatus,
  type SessionState,
  type SseEnd,
  type SseEvent,
  type TokenKey,
  type TokenStore,
  type UploadedFile,
} from './types.js';
