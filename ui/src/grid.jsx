// A virtualized grid: only the rows and columns in view are in the DOM, so 100,000
// rows × 1,000 columns scroll like 40 × 15. The header and the pinned left block stay
// in place with CSS sticky positioning (no scroll-synchronised JS, no jitter).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';

export const ROW_H = 26;
const HEAD_H = 30;

function firstEndingAfter(offsets, widths, x) {
  let lo = 0,
    hi = widths.length - 1,
    ans = widths.length;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid] + widths[mid] > x) {
      ans = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return ans;
}

/**
 * cols: [{id, width, header: () => vnode, cell: (row) => vnode, className}]
 * pinned: {width, header: () => vnode, cell: (row, index) => vnode}
 */
export function Grid({ rows, cols, pinned, rowClass, onNearEnd, onResize, testid }) {
  const ref = useRef(null);
  const [vp, setVp] = useState({ top: 0, left: 0, w: 1200, h: 700 });
  const frame = useRef(0);

  const measure = () => {
    const el = ref.current;
    if (!el) return;
    setVp({ top: el.scrollTop, left: el.scrollLeft, w: el.clientWidth, h: el.clientHeight });
  };
  useLayoutEffect(() => {
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(ref.current);
    return () => ro.disconnect();
  }, []);
  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      measure();
    });
  };

  const { offsets, widths, total } = useMemo(() => {
    const widths = cols.map((c) => c.width);
    const offsets = new Array(cols.length);
    let x = 0;
    for (let i = 0; i < cols.length; i++) {
      offsets[i] = x;
      x += widths[i];
    }
    return { offsets, widths, total: x };
  }, [cols]);

  const n = rows.length;
  const r0 = Math.max(0, Math.floor(vp.top / ROW_H) - 6);
  const r1 = Math.min(n, Math.ceil((vp.top + vp.h) / ROW_H) + 6);
  const x0 = vp.left;
  const x1 = vp.left + vp.w - pinned.width;
  const c0 = Math.max(0, firstEndingAfter(offsets, widths, x0) - 2);
  let c1 = c0;
  while (c1 < cols.length && offsets[c1] < x1) c1++;
  c1 = Math.min(cols.length, c1 + 2);

  useEffect(() => {
    if (onNearEnd && n > 0 && r1 >= n - 30) onNearEnd();
  }, [r1, n]);

  // Dragging a header's right edge resizes its column (onResize(id, width)).
  const startResize = (e, col) => {
    e.preventDefault();
    e.stopPropagation();
    const x0 = e.clientX,
      w0 = col.width;
    const move = (ev) => onResize(col.id, Math.max(48, Math.round(w0 + ev.clientX - x0)));
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  };

  const totalW = pinned.width + total;
  const visibleCols = [];
  for (let c = c0; c < c1; c++) visibleCols.push(c);
  const body = [];
  for (let r = r0; r < r1; r++) {
    const row = rows[r];
    body.push(
      <div class={'g-row ' + (rowClass ? rowClass(row) : '')} key={row.key ?? r} style={{ width: totalW + 'px' }} data-row={r}>
        <div class="g-pin" style={{ width: pinned.width + 'px' }}>
          {pinned.cell(row, r)}
        </div>
        {visibleCols.map((c) => (
          <div class={'g-cell ' + (cols[c].className || '')} key={cols[c].id} style={{ left: pinned.width + offsets[c] + 'px', width: widths[c] + 'px' }}>
            {cols[c].cell(row)}
          </div>
        ))}
      </div>,
    );
  }

  return (
    <div class="grid" ref={ref} onScroll={onScroll} data-testid={testid}>
      <div class="g-inner" style={{ width: totalW + 'px', height: HEAD_H + n * ROW_H + 'px' }}>
        <div class="g-head" style={{ width: totalW + 'px', height: HEAD_H + 'px' }}>
          <div class="g-pin g-pin-head" style={{ width: pinned.width + 'px' }}>
            {pinned.header()}
          </div>
          {visibleCols.map((c) => (
            <div class={'g-hcell ' + (cols[c].headClass || '')} key={cols[c].id} style={{ left: pinned.width + offsets[c] + 'px', width: widths[c] + 'px' }} title={cols[c].title}>
              {cols[c].header()}
              {onResize && <span class="col-resize" onMouseDown={(e) => startResize(e, cols[c])} data-testid="col-resize" />}
            </div>
          ))}
        </div>
        <div class="g-body" style={{ top: HEAD_H + r0 * ROW_H + 'px', width: totalW + 'px' }}>
          {body}
        </div>
      </div>
    </div>
  );
}
