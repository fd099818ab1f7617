import { describe, expect, it } from 'vitest';
import { parseMembersCsv } from './members-csv.ts';

describe('parseMembersCsv', () => {
  it('says what is wrong with a header row without quoting it', () => {
    const result = parseMembersCsv('password,api_key\nhunter2,abc123\n');
    expect(result).toEqual({
      ok: false,
      error: 'the header row needs a userId or a mobile column (it has 2 column(s), none named so)',
    });
  });

  it('says where CSV is broken without quoting the field', () => {
    const result = parseMembersCsv('userId,name\nu1,"secret-value\n');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^not valid CSV on line \d+ \(CSV_[A-Z_]+\)$/);
    expect(!result.ok && result.error).not.toContain('secret-value');
  });
});
