import type { KioskView } from '../../device/kiosk/kiosk.ts';

/** The default deadline of waitForView: a kiosk in another process on a busy machine, talking to a hub. */
export const VIEW_DEADLINE_MS = 30_000;

/**
 * Follows a kiosk's live view stream (server-sent events) until a view matches, so tests wait for what
 * the member would see instead of sleeping.
 */
export async function waitForView(kioskUrl: string, matches: (view: KioskView) => boolean, timeoutMs = VIEW_DEADLINE_MS): Promise<KioskView> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let last: KioskView | undefined;
  try {
    const response = await fetch(new URL('/api/view/stream', kioskUrl), { signal: controller.signal });
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith('data: ')) continue;
        last = JSON.parse(event.slice('data: '.length)) as KioskView;
        if (matches(last)) return last;
      }
    }
    throw new Error('kiosk view stream ended');
  } catch (error) {
    if (controller.signal.aborted) {
      throw new Error(`kiosk view did not match within ${timeoutMs} ms; last view: ${JSON.stringify(last)}`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
