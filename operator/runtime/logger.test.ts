import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from './logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  return { logger, text: () => lines.join('') };
}

const WEBHOOK = 'https://oapi.dingtalk.com/robot/send?access_token=abc123secret&timestamp=1&sign=s1gn%3D';

describe('logger', () => {
  it('redacts access_token and sign values in URLs and keeps the rest', () => {
    expect(redactUrl(WEBHOOK)).toBe(
      'https://oapi.dingtalk.com/robot/send?access_token=[REDACTED]&timestamp=1&sign=[REDACTED]',
    );
  });

  it('redacts secret-looking fields at the top level and one level down', () => {
    const { logger, text } = capture();
    logger.info(
      { token: 't0k', clientSecret: 'cs', target: { webhook: 'w', authorization: 'Bearer x', name: 'ops' } },
      'hello',
    );
    const line = JSON.parse(text());
    expect(line.token).toBe('[REDACTED]');
    expect(line.clientSecret).toBe('[REDACTED]');
    expect(line.target).toEqual({ webhook: '[REDACTED]', authorization: '[REDACTED]', name: 'ops' });
  });

  it('scrubs URLs in messages, nested fields and errors', () => {
    const { logger, text } = capture();
    logger.info({ request: { url: WEBHOOK } }, `sending to ${WEBHOOK}`);
    logger.error({ err: new Error(`fetch ${WEBHOOK} failed`) }, 'failed');
    logger.error(new Error(`fetch ${WEBHOOK} failed`));
    const out = text();
    expect(out).not.toContain('abc123secret');
    expect(out).not.toContain('s1gn');
    expect(out).toContain('access_token=[REDACTED]');
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[1].err.type).toBe('Error');
    expect(lines[2].err.message).toContain('[REDACTED]');
  });
});
