import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSkipToken,
  encodeSkipToken,
  mergePage,
  queryFingerprint,
  resolveWindow,
  sourceReadOf,
  type PageCursor,
} from '../../shared/audit/auditQuery';
import { FacadeError } from '../../shared/errors';

/**
 * Paging across operations, against a model of the table: every record that matches comes exactly
 * once, newest first, and no page is longer than asked, whatever the partitions hold, whichever
 * records match, and however early the table service stops a scan (its five seconds or 1,000 rows
 * on a sparse condition).
 */

interface Row {
  rowKey: string;
  matches: boolean;
}

/** A partition as the table service scans it: rows in key order, the condition applied, a budget of rows per scan. */
function scanOf(rows: readonly Row[], after: PageCursor | undefined, limit: number, budget: number) {
  const from = rows.filter((row) => !after || row.rowKey > after.key || (after.inclusive && row.rowKey === after.key));
  const records: Row[] = [];
  for (const [scanned, row] of from.entries()) {
    if (scanned >= budget) return { records, exhausted: false, resumeAt: row.rowKey };
    if (!row.matches) continue;
    records.push(row);
    if (records.length === limit) return { records, exhausted: false };
  }
  return { records, exhausted: true };
}

const rowKey = (time: number, id: number) => `${String(time).padStart(13, '0')}_${String(id).padStart(4, '0')}`;

const partitions = fc
  .array(fc.record({ time: fc.integer({ min: 0, max: 500 }), partition: fc.integer({ min: 0, max: 3 }), matches: fc.boolean() }), { maxLength: 120 })
  .map((rows) => {
    const byPartition: Row[][] = [[], [], [], []];
    rows.forEach((row, id) => byPartition[row.partition]!.push({ rowKey: rowKey(row.time, id), matches: row.matches }));
    return byPartition.map((partition) => partition.sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1)));
  });

describe('paging merged across partitions', () => {
  it('returns every matching record once, newest first, in pages of at most $top, reading at most $top + 1 per partition', () => {
    fc.assert(
      fc.property(partitions, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 12 }), (byPartition, top, budget) => {
        const expected = byPartition.flat().filter((row) => row.matches).map((row) => row.rowKey).sort();
        const seen: string[] = [];
        let after: PageCursor | undefined;
        for (let pages = 0; ; pages += 1) {
          expect(pages, 'paging ends').toBeLessThan(500);
          const scans = byPartition.map((rows) => scanOf(rows, after, top + 1, budget));
          for (const scan of scans) expect(scan.records.length).toBeLessThanOrEqual(top + 1);
          const page = mergePage(scans.map(sourceReadOf), top);
          expect(page.records.length).toBeLessThanOrEqual(top);
          seen.push(...page.records.map((row) => row.rowKey));
          if (!page.next) break;
          if (after) expect(page.next.key >= after.key).toBe(true);
          after = page.next;
        }
        expect(seen).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });

  it('gives no next page when the last one is exactly full', () => {
    const rows = [0, 1, 2, 3].map((id) => ({ rowKey: rowKey(id, id), matches: true }));
    const page = mergePage([sourceReadOf(scanOf(rows, undefined, 5, 100)), sourceReadOf(scanOf([], undefined, 5, 100))], 4);
    expect(page.records).toHaveLength(4);
    expect(page.next).toBeUndefined();
  });
});

describe('$skiptoken', () => {
  const window = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-08T00:00:00Z') };
  const fingerprint = queryFingerprint({ status: 'failed', $top: 10 });
  const cursor = { key: `8204085933368_${'7726b22a-553f-4ddd-8c3b-f7bf10b26bff'}`, inclusive: false };
  const token = encodeSkipToken(cursor, window, fingerprint);
  const code = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return error instanceof FacadeError ? `${error.status} ${error.code} ${error.details[0]?.code ?? ''} ${error.details[0]?.target ?? ''}` : String(error);
    }
    return 'accepted';
  };

  it('carries the cursor and the window of the first page, for the same query whatever the page size', () => {
    expect(decodeSkipToken(token, queryFingerprint({ status: 'failed', $top: 500, $skiptoken: token }), true)).toEqual({ cursor, window });
  });

  it('is refused once changed in any way, with a Graph-shaped 400 naming $skiptoken', () => {
    const [payload, checksum] = token.split('.');
    const edited = Buffer.from(payload!, 'base64url').toString('utf8').replace('"f":', '"f":1');
    for (const tampered of [
      `${Buffer.from(edited).toString('base64url')}.${checksum}`,
      `${payload}.${checksum!.slice(0, -1)}x`,
      `${payload}`,
      `${token}.x`,
      'not a token',
      '',
    ]) {
      expect(code(() => decodeSkipToken(tampered, fingerprint, true)), tampered).toBe('400 invalidRequest invalidValue $skiptoken');
    }
  });

  it('is refused with other filters than its query\'s', () => {
    expect(code(() => decodeSkipToken(token, queryFingerprint({ status: 'unknown' }), true))).toBe('400 invalidRequest invalidValue $skiptoken');
  });
});

describe('the time window', () => {
  const now = new Date('2026-11-29T12:00:00Z');
  const day = 24 * 3_600_000;

  it('unfiltered, reaches back to the first record; filtered, the last 7 days by default', () => {
    expect(resolveWindow({}, now, false)).toEqual({ from: new Date(0), to: now });
    expect(resolveWindow({}, now, true)).toEqual({ from: new Date(now.getTime() - 7 * day), to: now });
    expect(resolveWindow({ to: new Date('2026-11-10T00:00:00Z') }, now, true).from).toEqual(new Date('2026-11-03T00:00:00Z'));
  });

  it('filtered, at most 31 days: a longer one is a Graph-shaped 400 naming the limit', () => {
    expect(resolveWindow({ from: new Date(now.getTime() - 31 * day) }, now, true).from).toEqual(new Date(now.getTime() - 31 * day));
    try {
      resolveWindow({ from: new Date(now.getTime() - 31 * day - 1) }, now, true);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FacadeError);
      expect((error as FacadeError).status).toBe(400);
      expect((error as FacadeError).message).toMatch(/at most 31 days/);
      expect((error as FacadeError).details).toEqual([expect.objectContaining({ code: 'windowTooLarge', target: 'from' })]);
    }
  });

  it('refuses an empty window', () => {
    expect(() => resolveWindow({ from: now, to: now }, now, false)).toThrow(/must be before/);
  });
});
