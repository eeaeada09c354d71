// One progress message per job, edited no faster than the adapter allows. Latest wins: an update arriving inside the
// interval replaces the pending one instead of queueing (chatbot-anchors §0.7: progress bars are the usual source of
// flood errors), identical text is never re-sent (no "message is not modified"), and a failed edit is dropped.
import type { Button, ChatPort, MessageRef } from './types.js';

export class ProgressMessage {
  private lastText: string | null = null;
  private lastSentAt = 0;
  private pending: { text: string; buttons: Button[] | undefined } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> = Promise.resolve();
  private closed = false;
  /** Edits actually sent (tests assert the throttle with it). */
  edits = 0;

  constructor(
    private readonly port: ChatPort,
    readonly ref: MessageRef,
    initialText: string,
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {
    this.lastText = initialText;
    this.lastSentAt = now();
  }

  /** Show `text` as soon as the edit interval allows; replaces any update still waiting. */
  update(text: string, buttons?: Button[]): void {
    if (this.closed) return;
    if (text === this.lastText) {
      this.pending = null;
      return;
    }
    this.pending = { text, buttons };
    const wait = this.lastSentAt + this.minIntervalMs - this.now();
    if (wait <= 0 && !this.timer) this.flushSoon(0);
    else if (!this.timer) this.flushSoon(wait);
  }

  /** Sends the final text now (respecting nothing but ordering) and stops further updates. */
  async finish(text: string, buttons?: Button[]): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    await this.inflight;
    if (text === this.lastText && buttons === undefined) return;
    await this.send(text, buttons ?? []);
  }

  private flushSoon(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      const p = this.pending;
      this.pending = null;
      if (!p || this.closed) return;
      this.inflight = this.inflight.then(() => this.send(p.text, p.buttons));
    }, ms);
    this.timer.unref();
  }

  private async send(text: string, buttons: Button[] | undefined): Promise<void> {
    if (text === this.lastText && buttons === undefined) return;
    this.lastText = text;
    this.lastSentAt = this.now();
    try {
      this.edits++;
      await this.port.editText(this.ref, text, buttons);
    } catch (e) {
      this.onError(e);
    }
  }
}
