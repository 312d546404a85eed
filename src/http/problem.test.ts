import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { problemResponse } from './problem.js';

describe('problemResponse', () => {
  it('writes the same body as JSON.stringify of the problem, for any text (escapes, unicode, quotes)', () => {
    fc.assert(
      fc.property(
        fc.record({ type: fc.string(), title: fc.string({ unit: 'binary' }), status: fc.integer({ min: 100, max: 599 }), code: fc.string() }),
        fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
        fc.option(fc.string(), { nil: undefined }),
        (p, detail, requestId) => {
          const problem = { ...p, ...(detail === undefined ? {} : { detail }), ...(requestId === undefined ? {} : { requestId }) };
          const r = problemResponse(problem);
          expect(r.body).toBe(JSON.stringify(problem));
          expect(JSON.parse(r.body)).toEqual(problem);
        },
      ),
    );
  });

  it('puts the content type first and keeps the extra headers; the caller’s object is not changed', () => {
    const extra = { 'retry-after': '1' };
    const r = problemResponse({ type: 't', title: 'T', status: 503, code: 'SHED' }, extra);
    expect(r.headers).toEqual({ 'content-type': 'application/problem+json', 'retry-after': '1' });
    expect(extra).toEqual({ 'retry-after': '1' });
    expect(problemResponse({ type: 't', title: 'T', status: 400, code: 'X' }).headers).toEqual({ 'content-type': 'application/problem+json' });
  });
});
