import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link, navigate, setQuery, useQuery } from '../router.js';
import { Grid } from '../grid.jsx';
import { fmtTime, fmtDuration, fmtNum, runName, bq, errText } from '../util.js';
import { Seg, RenameBox } from './experiments.jsx';
import { errorSpan } from '../logic.js';
import { ExperimentHead } from './experiment_head.jsx';

const FIRST_PAGE = 200;
const NEXT_PAGE = 1000;


function FilterError({ query, error }) {
  const span = errorSpan(query, error.message);
  const chars = Array.from(query);
  return (
    <div class="error filter-error" data-testid="filter-error">
      <div>{errText(error)}</div>
      {span && (
        <pre class="err-query">
          {chars.slice(0, span[0]).join('')}
          <mark data-testid="filter-error-mark">{chars.slice(span[0], span[1]).join('') || ' '}</mark>
          {chars.slice(span[1]).join('')}
          {'\n' + ' '.repeat(span[0]) + '^'}
        </pre>
      )}
    </div>
  );
}

function loadCols(key) {
  try {
    return JSON.parse(localStorage.getItem('mlox.cols.' + key)) || { metrics: null, params: null, tags: [] };
  } catch {
    return { metrics: null, params: null, tags: [] };
  }
}

function loadLayout(key) {
  try {
    const v = JSON.parse(localStorage.getItem('mlox.layout.' + key));
    return { widths: (v && v.widths) || {}, pins: (v && Array.isArray(v.pins) && v.pins) || [] };
  } catch {
    return { widths: {}, pins: [] };
  }
}

export function RunsPage({ expIds }) {
  const q = useQuery();
  const filter = q.get('filter') || '';
  const order = q.get('order') || '';
  const view = q.get('view') || 'ACTIVE_ONLY';
  const groupBy = q.get('group') || '';
  const [text, setText] = useState(filter);
  const [exps, setExps] = useState([]);
  const [runs, setRuns] = useState([]);
  const [token, setToken] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [chooser, setChooser] = useState(false);
  const [renaming, setRenaming] = useState(false);
  const [reload, setReload] = useState(0);
  const colKey = expIds.join(',');
  const [chosen, setChosen] = useState(() => loadCols(colKey));
  // Column widths (dragged) and pinned columns, remembered per experiment list.
  const [layout, setLayout] = useState(() => loadLayout(colKey));
  const saveLayout = (l) => {
    setLayout(l);
    localStorage.setItem('mlox.layout.' + colKey, JSON.stringify(l));
  };
  const togglePin = (id) => saveLayout({ ...layout, pins: layout.pins.includes(id) ? layout.pins.filter((x) => x !== id) : [...layout.pins, id] });
  const keys = useRef({ metrics: new Set(), params: new Set(), tags: new Set(), models: false, datasets: false });
  // Names of the experiments' logged models, for the Models column.
  const [lmNames, setLmNames] = useState({});
  useEffect(() => {
    api
      .searchLoggedModels({ experiment_ids: expIds, max_results: 1000 })
      .then((r) => setLmNames(Object.fromEntries((r.models || []).map((m) => [m.info.model_id, m.info.name]))), () => {});
  }, [colKey]);
  const [keyVersion, setKeyVersion] = useState(0);
  const inflight = useRef(null);
  const lastClicked = useRef(null);

  useEffect(() => {
    Promise.all(expIds.map((id) => api.getExperiment(id))).then(setExps, setActionError);
  }, [colKey]);
  useEffect(() => setText(filter), [filter]);

  const scan = (list) => {
    const k = keys.current;
    let grew = false;
    for (const r of list) {
      const d = r.data || {};
      for (const m of d.metrics || []) if (!k.metrics.has(m.key)) (k.metrics.add(m.key), (grew = true));
      for (const p of d.params || []) if (!k.params.has(p.key)) (k.params.add(p.key), (grew = true));
      for (const t of d.tags || []) if (!k.tags.has(t.key)) (k.tags.add(t.key), (grew = true));
      if (!k.models && r.outputs?.model_outputs?.length) (k.models = true), (grew = true);
      if (!k.datasets && r.inputs?.dataset_inputs?.length) (k.datasets = true), (grew = true);
    }
    if (grew) setKeyVersion((v) => v + 1);
  };

  const request = (page_token, max_results) => ({
    experiment_ids: expIds,
    filter: filter || undefined,
    run_view_type: view,
    max_results,
    order_by: order ? [order] : undefined,
    page_token,
  });

  useEffect(() => {
    inflight.current?.abort();
    const ctl = new AbortController();
    inflight.current = ctl;
    setLoading(true);
    setError(null);
    api.searchRuns(request(undefined, FIRST_PAGE), ctl.signal).then(
      (r) => {
        const list = (r.runs || []).map(withKey);
        scan(list);
        setRuns(list);
        setToken(r.next_page_token || null);
        setLoading(false);
      },
      (e) => {
        if (e.name === 'AbortError') return;
        setRuns([]);
        setToken(null);
        setError(e);
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [colKey, filter, order, view, reload]);

  const loadMore = () => {
    if (!token || loading) return;
    setLoading(true);
    const ctl = new AbortController();
    inflight.current = ctl;
    api.searchRuns(request(token, NEXT_PAGE), ctl.signal).then(
      (r) => {
        const list = (r.runs || []).map(withKey);
        scan(list);
        setRuns((old) => old.concat(list));
        setToken(r.next_page_token || null);
        setLoading(false);
      },
      (e) => {
        if (e.name !== 'AbortError') (setActionError(e), setLoading(false));
      },
    );
  };

  const saveChosen = (c) => {
    setChosen(c);
    localStorage.setItem('mlox.cols.' + colKey, JSON.stringify(c));
  };

  const sortBy = (key) => {
    let next;
    if (order === key + ' DESC') next = key + ' ASC';
    else if (order === key + ' ASC') next = '';
    else next = key + ' DESC';
    setQuery({ order: next });
  };
  const sortMark = (key) => (order === key + ' DESC' ? ' ↓' : order === key + ' ASC' ? ' ↑' : '');

  const allCols = useMemo(() => {
    const head = (label, sortKey, title) => ({
      header: () =>
        sortKey ? (
          <button class="h-sort" onClick={() => sortBy(sortKey)} title={title || label}>
            {label}
            <b>{sortMark(sortKey)}</b>
          </button>
        ) : (
          <span>{label}</span>
        ),
    });
    const list = [
      { id: 'a:status', width: 90, ...head('Status', 'attributes.status'), cell: (r) => r.info.status && <span class={'status s-' + r.info.status}>{r.info.status}</span> },
      { id: 'a:start', width: 172, className: 'nowrap-cell', ...head('Created', 'attributes.start_time'), cell: (r) => fmtTime(r.info.start_time) },
      { id: 'a:dur', width: 80, ...head('Duration'), cell: (r) => fmtDuration(r.info.start_time, r.info.end_time) },
      { id: 'a:user', width: 100, ...head('User', 'attributes.user_id'), cell: (r) => r.info.user_id },
      { id: 'a:source', width: 150, ...head('Source', 'tags.`mlflow.source.name`'), cell: (r) => (r.tagMap['mlflow.source.name'] || '').split('/').pop() },
    ];
    // MLflow 3: the models a run logged (run outputs) and the datasets it used (inputs).
    if (keys.current.models)
      list.push({
        id: 'a:models',
        width: 170,
        ...head('Models'),
        cell: (r) =>
          (r.outputs?.model_outputs || []).map((o) => (
            <Link key={o.model_id} class="chip lm-chip" href={`/experiments/${r.info.experiment_id}/models/${o.model_id}`} title={o.model_id}>
              {lmNames[o.model_id] || o.model_id.slice(0, 10)}
            </Link>
          )),
      });
    if (keys.current.datasets)
      list.push({
        id: 'a:datasets',
        width: 170,
        ...head('Datasets'),
        cell: (r) =>
          (r.inputs?.dataset_inputs || []).map((d, i) => {
            const ctx = (d.tags || []).find((t) => t.key === 'mlflow.data.context')?.value;
            return (
              <span key={i} class="chip" title={`${d.dataset?.name} (${d.dataset?.digest})${ctx ? ' · ' + ctx : ''}`}>
                {d.dataset?.name}
                {ctx ? ` · ${ctx}` : ''}
              </span>
            );
          }),
      });
    if (expIds.length > 1) {
      const names = Object.fromEntries(exps.map((e) => [e.experiment_id, e.name]));
      list.unshift({ id: 'a:exp', width: 130, ...head('Experiment'), cell: (r) => names[r.info.experiment_id] || r.info.experiment_id });
    }
    const k = keys.current;
    const pick = (group, all) => (chosen[group] === null ? [...all].sort() : chosen[group].filter((x) => all.has(x)));
    for (const key of pick('metrics', k.metrics))
      list.push({ id: 'm:' + key, width: 110, className: 'num', headClass: 'h-metric', title: 'metric ' + key, ...head(key, 'metrics.' + bq(key), 'metric ' + key), cell: (r) => fmtNum(r.metricMap[key]) });
    for (const key of pick('params', k.params))
      list.push({ id: 'p:' + key, width: 110, headClass: 'h-param', title: 'param ' + key, ...head(key, 'params.' + bq(key), 'param ' + key), cell: (r) => r.paramMap[key] });
    for (const key of pick('tags', k.tags))
      list.push({ id: 't:' + key, width: 140, headClass: 'h-tag', title: 'tag ' + key, ...head(key, 'tags.' + bq(key), 'tag ' + key), cell: (r) => r.tagMap[key] });
    for (const c of list) {
      if (layout.widths[c.id]) c.width = layout.widths[c.id];
      const h = c.header;
      const on = layout.pins.includes(c.id);
      c.header = () => (
        <>
          {h()}
          <button class={'pin-btn' + (on ? ' on' : '')} title={on ? 'Unpin column' : 'Pin column to the left'} onClick={() => togglePin(c.id)} data-testid="pin-col">
            {on ? '⊗' : '⇤'}
          </button>
        </>
      );
    }
    return list;
  }, [keyVersion, chosen, order, exps, colKey, layout, lmNames]);
  const pinnedCols = layout.pins.map((id) => allCols.find((c) => c.id === id)).filter(Boolean);
  const cols = allCols.filter((c) => !layout.pins.includes(c.id));

  // Nested runs: a run whose parent is loaded is listed under it, shown when the parent
  // is expanded; others (and children whose parent is not loaded) are top-level rows.
  const [expanded, setExpanded] = useState(new Set());
  const rows = useMemo(() => (groupBy ? groupRows(runs, groupBy, expanded) : treeRows(runs, expanded)), [runs, expanded, groupBy]);
  const toggleExpand = (key) => {
    const s = new Set(expanded);
    s.has(key) ? s.delete(key) : s.add(key);
    setExpanded(s);
  };

  const allSelected = runs.length > 0 && runs.every((r) => selected.has(r.key));
  const PIN_MAIN = 290;
  const pinned = {
    width: PIN_MAIN + pinnedCols.reduce((a, c) => a + c.width, 0),
    header: () => (
      <>
        <div class="pin-main" style={{ width: PIN_MAIN - 16 + 'px' }}>
        <input
          type="checkbox"
          checked={allSelected}
          onChange={() => setSelected(allSelected ? new Set() : new Set(runs.map((r) => r.key)))}
          title="Select all loaded runs"
        />
        <button class="h-sort" onClick={() => sortBy('attributes.run_name')}>
          Run name<b>{sortMark('attributes.run_name')}</b>
        </button>
        </div>
        {pinnedCols.map((c) => (
          <div key={c.id} class={'pin-cell pin-hcell ' + (c.headClass || '')} style={{ width: c.width + 'px' }} title={c.title}>
            {c.header()}
          </div>
        ))}
      </>
    ),
    cell: (r, i) =>
      r.isGroup ? (
        <>
          <div class="pin-main group-cell" style={{ width: PIN_MAIN - 16 + 'px' }}>
            <button class={'tree-toggle' + (expanded.has(r.key) ? ' open' : '')} onClick={() => toggleExpand(r.key)} data-testid="group-toggle">
              ▸
            </button>
            <b class="group-label" title={r.label}>{r.label}</b>
            <span class="kids-count" data-testid="group-count">{r.kids}</span>
          </div>
          {pinnedCols.map((c) => (
            <div key={c.id} class={'pin-cell g-cell-in ' + (c.className || '')} style={{ width: c.width + 'px' }}>
              {c.cell(r)}
            </div>
          ))}
        </>
      ) : (
      <>
        <div class="pin-main" style={{ width: PIN_MAIN - 16 + 'px' }}>
        <input
          type="checkbox"
          checked={selected.has(r.key)}
          onClick={(e) => {
            // Shift-click selects the range from the last clicked row.
            const s = new Set(selected);
            const on = !s.has(r.key);
            const from = e.shiftKey && lastClicked.current !== null ? Math.min(lastClicked.current, i) : i;
            const to = e.shiftKey && lastClicked.current !== null ? Math.max(lastClicked.current, i) : i;
            for (let k = from; k <= to; k++) on ? s.add(rows[k].key) : s.delete(rows[k].key);
            lastClicked.current = i;
            setSelected(s);
          }}
        />
        <span class="tree-indent" style={{ width: r.depth * 16 + 'px' }} />
        {r.kids > 0 ? (
          <button class={'tree-toggle' + (expanded.has(r.key) ? ' open' : '')} onClick={() => toggleExpand(r.key)} title={(expanded.has(r.key) ? 'Hide' : 'Show') + ` ${r.kids} child run${r.kids === 1 ? '' : 's'}`} data-testid="tree-toggle">
            ▸
          </button>
        ) : r.tagMap['mlflow.parentRunId'] && r.depth === 0 ? (
          <span class="child-mark" title="child run (parent not in this list)">↳</span>
        ) : (
          <span class="tree-spacer" />
        )}
        <Link href={'/runs/' + r.key} class="run-link">
          {runName(r)}
        </Link>
        {r.kids > 0 && <span class="kids-count" title="child runs">{r.kids}</span>}
        {r.info.lifecycle_stage === 'deleted' && <span class="badge-deleted">deleted</span>}
        </div>
        {pinnedCols.map((c) => (
          <div key={c.id} class={'pin-cell g-cell-in ' + (c.className || '')} style={{ width: c.width + 'px' }}>
            {c.cell(r)}
          </div>
        ))}
      </>
    ),
  };
  const rowClass = (r) => (r.isGroup ? 'group' : (selected.has(r.key) ? 'sel' : '') + (r.info.lifecycle_stage === 'deleted' ? ' deleted' : ''));

  const sel = [...selected];
  const bulk = (fn) =>
    Promise.all(sel.map(fn)).then(
      () => (setSelected(new Set()), setReload((x) => x + 1)),
      setActionError,
    );

  return (
    <div class="page runs-page">
      <ExperimentHead expIds={expIds} exps={exps} tab="runs" />
      <form
        class="filter-bar"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ filter: text.trim() });
        }}
      >
        <input
          class="grow mono"
          placeholder="Filter runs:  metrics.accuracy > 0.9 AND params.lr = '0.01' AND tags.`mlflow.user` LIKE 'ana%'"
          value={text}
          onInput={(e) => setText(e.target.value)}
          data-testid="run-filter"
          spellcheck={false}
        />
        <button type="submit" class="primary">
          Search
        </button>
        {filter && (
          <button type="button" onClick={() => setQuery({ filter: '' })}>
            Clear
          </button>
        )}
      </form>
      {error && <FilterError query={filter} error={error} />}
      <div class="toolbar">
        <Seg value={view} onChange={(v) => setQuery({ view: v === 'ACTIVE_ONLY' ? '' : v })} options={[['ACTIVE_ONLY', 'Active'], ['DELETED_ONLY', 'Deleted'], ['ALL', 'All']]} />
        <span class="muted" data-testid="run-count">
          {runs.length.toLocaleString()} run{runs.length === 1 ? '' : 's'}
          {token ? ' loaded · scroll for more' : ''}
          {loading ? ' · loading…' : ''}
        </span>
        <label class="group-by">
          Group by{' '}
          <select value={groupBy} onChange={(e) => (setExpanded(new Set()), setQuery({ group: e.target.value }))} data-testid="group-by">
            <option value="">none</option>
            {[...keys.current.params].sort().map((k) => (
              <option key={'p' + k} value={'params.' + k}>
                param {k}
              </option>
            ))}
            {[...keys.current.tags]
              .filter((k) => !k.startsWith('mlflow.') || k === 'mlflow.user' || k === 'mlflow.source.name')
              .sort()
              .map((k) => (
                <option key={'t' + k} value={'tags.' + k}>
                  tag {k}
                </option>
              ))}
          </select>
        </label>
        <span class="grow" />
        {sel.length > 0 && <span class="muted">{sel.length} selected</span>}
        <button disabled={sel.length < 1} class="primary" data-testid="compare-btn" onClick={() => navigate(`/compare?runs=${sel.join(',')}&exps=${expIds.join(',')}`)}>
          Compare
        </button>
        {renaming && sel.length === 1 ? (
          <RenameBox
            value={runName(runs.find((r) => r.key === sel[0]))}
            onDone={(name) => {
              setRenaming(false);
              if (name) api.renameRun(sel[0], name).then(() => setReload((x) => x + 1), setActionError);
            }}
          />
        ) : (
          <button disabled={sel.length !== 1} onClick={() => setRenaming(true)}>
            Rename
          </button>
        )}
        {view === 'DELETED_ONLY' ? (
          <button disabled={!sel.length} onClick={() => bulk(api.restoreRun)}>
            Restore
          </button>
        ) : (
          <button disabled={!sel.length} class="danger" onClick={() => confirm(`Delete ${sel.length} run(s)?`) && bulk(api.deleteRun)} data-testid="delete-runs">
            Delete
          </button>
        )}
        <div class="dropdown">
          <button onClick={() => setChooser(!chooser)} data-testid="columns-btn">
            Columns ▾
          </button>
          {chooser && <ColumnChooser keys={keys.current} chosen={chosen} onChange={saveChosen} onClose={() => setChooser(false)} />}
        </div>
      </div>
      {actionError && <div class="error">{errText(actionError)}</div>}
      {!error && runs.length === 0 && !loading ? (
        <div class="muted pad">No runs{filter ? ' match this filter' : ''}.</div>
      ) : (
        <Grid rows={rows} cols={cols} pinned={pinned} onNearEnd={loadMore} onResize={(id, w) => saveLayout({ ...layout, widths: { ...layout.widths, [id]: w } })} rowClass={rowClass} testid="runs-grid" />
      )}
    </div>
  );
}

/**
 * Rows grouped by a param or tag (`params.lr`, `tags.team`): one row per value with the
 * run count and, in metric columns, the mean over its runs; runs follow when expanded.
 */
export function groupRows(runs, groupBy, expanded) {
  const [kind, ...rest] = groupBy.split('.');
  const key = rest.join('.');
  const groups = new Map();
  for (const r of runs) {
    const v = (kind === 'params' ? r.paramMap : r.tagMap)[key];
    const g = v === undefined ? '\u0000' : v;
    let a = groups.get(g);
    if (!a) groups.set(g, (a = []));
    a.push(r);
  }
  const out = [];
  const vals = [...groups.keys()].sort((a, b) => (a === '\u0000') - (b === '\u0000') || a.localeCompare(b, undefined, { numeric: true }));
  for (const v of vals) {
    const members = groups.get(v);
    const sums = {},
      counts = {};
    for (const r of members)
      for (const [k, x] of Object.entries(r.metricMap)) {
        const n = Number(x);
        if (!Number.isFinite(n)) continue;
        sums[k] = (sums[k] || 0) + n;
        counts[k] = (counts[k] || 0) + 1;
      }
    const metricMap = Object.fromEntries(Object.keys(sums).map((k) => [k, sums[k] / counts[k]]));
    const same = (m) => {
      const keys = new Set(members.flatMap((r) => Object.keys(r[m])));
      return Object.fromEntries([...keys].filter((k) => members.every((r) => r[m][k] === members[0][m][k])).map((k) => [k, members[0][m][k]]));
    };
    const gkey = 'group:' + v;
    out.push({ key: gkey, isGroup: true, label: v === '\u0000' ? `(no ${key})` : `${key} = ${v}`, kids: members.length, depth: 0, metricMap, paramMap: same('paramMap'), tagMap: same('tagMap'), info: { status: '', lifecycle_stage: 'active' } });
    if (expanded.has(gkey))
      for (const r of members) {
        r.depth = 1;
        r.kids = 0;
        out.push(r);
      }
  }
  return out;
}

/** Rows of the runs table: parents followed by their (expanded) children, depth-first. */
export function treeRows(runs, expanded) {
  const byId = new Map(runs.map((r) => [r.key, r]));
  const kids = new Map();
  const top = [];
  for (const r of runs) {
    const p = r.tagMap['mlflow.parentRunId'];
    if (p && p !== r.key && byId.has(p)) {
      let a = kids.get(p);
      if (!a) kids.set(p, (a = []));
      a.push(r);
    } else top.push(r);
  }
  const out = [];
  const seen = new Set();
  const walk = (r, depth) => {
    if (seen.has(r.key)) return; // a cycle of parent tags
    seen.add(r.key);
    const children = kids.get(r.key) || [];
    r.depth = depth;
    r.kids = children.length;
    out.push(r);
    if (expanded.has(r.key)) for (const c of children) walk(c, depth + 1);
  };
  for (const r of top) walk(r, 0);
  return out;
}

function withKey(r) {
  const d = r.data || {};
  r.key = r.info.run_id;
  r.tagMap = Object.fromEntries((d.tags || []).map((t) => [t.key, t.value]));
  r.paramMap = Object.fromEntries((d.params || []).map((t) => [t.key, t.value]));
  r.metricMap = Object.fromEntries((d.metrics || []).map((t) => [t.key, t.value]));
  return r;
}


function ColumnChooser({ keys, chosen, onChange, onClose }) {
  const [f, setF] = useState('');
  const groups = [
    ['metrics', 'Metrics'],
    ['params', 'Parameters'],
    ['tags', 'Tags'],
  ];
  const isOn = (g, k) => chosen[g] === null || chosen[g].includes(k);
  const toggle = (g, k) => {
    const all = [...keys[g]].sort();
    const cur = chosen[g] === null ? all : chosen[g];
    const next = cur.includes(k) ? cur.filter((x) => x !== k) : [...cur, k];
    onChange({ ...chosen, [g]: next });
  };
  return (
    <div class="menu chooser" data-testid="column-chooser">
      <div class="row">
        <input class="grow" placeholder="Find column" value={f} onInput={(e) => setF(e.target.value)} />
        <button onClick={onClose}>Done</button>
      </div>
      {groups.map(([g, label]) => {
        const list = [...keys[g]].sort().filter((k) => k.toLowerCase().includes(f.toLowerCase()));
        return (
          <div key={g} class="chooser-group">
            <div class="chooser-title">
              {label} <span class="muted">({keys[g].size})</span>
              <button class="link" onClick={() => onChange({ ...chosen, [g]: null })}>
                all
              </button>
              <button class="link" onClick={() => onChange({ ...chosen, [g]: [] })}>
                none
              </button>
            </div>
            {list.slice(0, 300).map((k) => (
              <label key={k} class="chk">
                <input type="checkbox" checked={isOn(g, k)} onChange={() => toggle(g, k)} /> {k}
              </label>
            ))}
            {list.length > 300 && <div class="muted small">…{list.length - 300} more, refine the search</div>}
          </div>
        );
      })}
    </div>
  );
}
