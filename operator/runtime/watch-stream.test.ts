import { describe, expect, it } from 'vitest';
import { readJsonLines } from './watch-stream.ts';

async function* chunks(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function collect<T>(body: AsyncIterable<Uint8Array>): Promise<T[]> {
  const documents: T[] = [];
  await readJsonLines<T>(body, (document) => documents.push(document));
  return documents;
}

describe('readJsonLines', () => {
  it('parses documents split across chunks, several in one chunk, and characters split between chunks', async () => {
    const documents = [{ a: 1 }, { title: '磁盘告警'.repeat(50) }, { b: [1, 2] }, { c: '' }];
    const text = `${documents.map((d) => JSON.stringify(d)).join('\n')}\n\n`;
    for (const size of [1, 2, 5, 7, 64, text.length]) {
      expect(await collect(chunks(text, size)), `chunks of ${size} bytes`).toEqual(documents);
    }
  });

  it('leaves a document without its newline pending', async () => {
    expect(await collect(chunks('{"a":1}\n{"b":', 3))).toEqual([{ a: 1 }]);
  });

  it('reads a large document in time linear in its size, however many chunks it comes in', async () => {
    // 4 MB in 256-byte chunks. Searching all the text pending after every chunk took 13 s on 2 cores
    // (quadratic: a minute for twice the size); searching each chunk once, it takes milliseconds.
    const document = { spec: { message: '警'.repeat(4_000_000 / 3) } };
    const started = performance.now();
    const [read] = await collect<typeof document>(chunks(`${JSON.stringify(document)}\n`, 256));
    const elapsedMs = performance.now() - started;
    expect(read?.spec.message.length).toBe(document.spec.message.length);
    expect(elapsedMs).toBeLessThan(5_000);
  });
});
