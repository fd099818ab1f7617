import { describe, expect, it } from 'vitest';
import { MembersImportError } from './columns.ts';
import { membersFromRows } from './members.ts';

describe('membersFromRows', () => {
  it('finds the columns by their Chinese headers, below title and instruction rows', () => {
    const rows = [
      ['通讯录导出'],
      ['说明：请勿修改表头'],
      ['员工UserID', '姓名', '部门', '手机'],
      ['manager4021', '李雷', '运维', '+86-13800000001'],
      ['', '韩梅梅', '运维', '13800000002'],
    ];
    expect(membersFromRows(rows)).toEqual([
      { userId: 'manager4021', name: '李雷', mobile: '+86-13800000001' },
      { userId: '', name: '韩梅梅', mobile: '13800000002' },
    ]);
  });

  it('finds the columns by their English headers in any order and case', () => {
    const rows = [
      ['Mobile', 'Department', 'Name', 'userid'],
      ['13800000003', 'SRE', 'Wang Fang', '0123456789'],
    ];
    expect(membersFromRows(rows)).toEqual([
      { userId: '0123456789', name: 'Wang Fang', mobile: '13800000003' },
    ]);
  });

  it('accepts an export with only a userId column or only a mobile column', () => {
    expect(membersFromRows([['用户ID'], ['u1']])).toEqual([{ userId: 'u1', name: '', mobile: '' }]);
    expect(membersFromRows([['手机号'], ['13800000004']])).toEqual([
      { userId: '', name: '', mobile: '13800000004' },
    ]);
  });

  it('skips blank rows', () => {
    expect(membersFromRows([['UserId', 'name'], ['', ''], ['u1', 'A'], []])).toHaveLength(1);
  });

  it('names the missing columns and the headers it accepts when neither is there', () => {
    const attempt = () =>
      membersFromRows([
        ['姓名', '部门'],
        ['李雷', '运维'],
      ]);
    expect(attempt).toThrow(MembersImportError);
    expect(attempt).toThrow(/no userId column and no mobile column/);
    expect(attempt).toThrow(/"员工UserID"/);
    expect(attempt).toThrow(/"手机号"/);
  });

  it('reports every row DingTalk would not accept, by its spreadsheet row number', () => {
    const attempt = () =>
      membersFromRows([
        ['title'],
        ['UserId', 'Name', 'Mobile'],
        ['', 'Nobody', ''],
        ['u2', 'B', 'not-a-phone'],
      ]);
    expect(attempt).toThrow('row 3: neither a userId nor a mobile\nrow 4: mobile');
  });
});
