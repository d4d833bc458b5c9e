import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link, navigate, setQuery, useQuery } from '../router.js';
import { fmtTime, errText } from '../util.js';

export function ExperimentsPage() {
  const q = useQuery();
  const search = q.get('q') || '';
  const view = q.get('view') || 'ACTIVE_ONLY';
  const [text, setText] = useState(search);
  const [exps, setExps] = useState(null);
  const [token, setToken] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [newName, setNewName] = useState('');
  const [renaming, setRenaming] = useState(null);
  const [reload, setReload] = useState(0);
  // Run counts of the listed experiments, fetched with each page (one request per page).
  const [counts, setCounts] = useState(undefined);
  const addCounts = (list) =>
    api.runCounts(list.map((x) => x.experiment_id)).then(
      (c) => setCounts((old) => ({ ...(old || {}), ...c })),
      () => setCounts((old) => old || {}),
    );

  const body = (page_token) => ({
    max_results: 200,
    view_type: view,
    filter: search ? `name ILIKE '%${search.replace(/'/g, "\\'")}%'` : undefined,
    order_by: ['last_update_time DESC'],
    page_token,
  });

  useEffect(() => {
    setError(null);
    api.searchExperiments(body()).then(
      (r) => {
        setExps(r.experiments || []);
        setToken(r.next_page_token || null);
        setCounts(undefined);
        addCounts(r.experiments || []);
      },
      (e) => setError(e),
    );
  }, [search, view, reload]);

  const more = () =>
    api.searchExperiments(body(token)).then((r) => {
      setExps([...exps, ...(r.experiments || [])]);
      setToken(r.next_page_token || null);
      addCounts(r.experiments || []);
    }, setError);

  const act = (p) => p.then(() => setReload(reload + 1), setError);
  const toggle = (id) => {
    const s = new Set(selected);
    s.has(id) ? s.delete(id) : s.add(id);
    setSelected(s);
  };

  return (
    <div class="page">
      <div class="page-head">
        <h1>Experiments</h1>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            if (!newName.trim()) return;
            api.createExperiment(newName.trim()).then((r) => {
              setNewName('');
              navigate('/experiments/' + r.experiment_id);
            }, setError);
          }}
        >
          <input placeholder="New experiment name" value={newName} onInput={(e) => setNewName(e.target.value)} data-testid="new-exp-name" />
          <button class="primary" type="submit">
            Create
          </button>
        </form>
      </div>
      <div class="toolbar">
        <form
          class="inline grow"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ q: text });
          }}
        >
          <input class="grow" placeholder="Search experiments by name" value={text} onInput={(e) => setText(e.target.value)} data-testid="exp-search" />
          <button type="submit">Search</button>
        </form>
        <Seg value={view} onChange={(v) => setQuery({ view: v === 'ACTIVE_ONLY' ? '' : v })} options={[['ACTIVE_ONLY', 'Active'], ['DELETED_ONLY', 'Deleted'], ['ALL', 'All']]} />
        <button disabled={selected.size === 0} class="primary" onClick={() => navigate('/experiments/' + [...selected].join(','))} data-testid="open-selected">
          Runs of {selected.size || ''} selected
        </button>
      </div>
      {error && <div class="error">{errText(error)}</div>}
      {!exps ? (
        <div class="muted pad">Loading…</div>
      ) : exps.length === 0 ? (
        <div class="muted pad">No experiments{search ? ` matching “${search}”` : ''}.</div>
      ) : (
        <table class="tbl" data-testid="experiments">
          <thead>
            <tr>
              <th style="width:28px" />
              <th>Name</th>
              <th>ID</th>
              <th class="nowrap num" title="Active runs">Runs</th>
              <th>Description</th>
              <th>Tags</th>
              <th class="nowrap">Created</th>
              <th class="nowrap">Last updated</th>
              <th style="width:150px" />
            </tr>
          </thead>
          <tbody>
            {exps.map((x) => (
              <tr key={x.experiment_id} class={x.lifecycle_stage === 'deleted' ? 'deleted' : ''}>
                <td>
                  <input type="checkbox" checked={selected.has(x.experiment_id)} onChange={() => toggle(x.experiment_id)} />
                </td>
                <td>
                  {renaming === x.experiment_id ? (
                    <RenameBox
                      value={x.name}
                      onDone={(name) => {
                        setRenaming(null);
                        if (name && name !== x.name) act(api.renameExperiment(x.experiment_id, name));
                      }}
                    />
                  ) : (
                    <Link href={'/experiments/' + x.experiment_id}>{x.name}</Link>
                  )}
                </td>
                <td class="mono">{x.experiment_id}</td>
                <td class="num">
                  <RunCount exp={x} counts={counts} />
                </td>
                <td class="muted ellipsis" title={note(x)}>
                  {plain(note(x))}
                </td>
                <td class="small">
                  {(x.tags || [])
                    .filter((t) => !t.key.startsWith('mlflow.'))
                    .slice(0, 4)
                    .map((t) => (
                      <span key={t.key} class="chip" title={`${t.key}=${t.value}`}>
                        {t.key}={t.value.length > 24 ? t.value.slice(0, 23) + '…' : t.value}
                      </span>
                    ))}
                </td>
                <td class="nowrap">{fmtTime(x.creation_time)}</td>
                <td class="nowrap">{fmtTime(x.last_update_time)}</td>
                <td class="actions">
                  <button class="link" onClick={() => setRenaming(x.experiment_id)}>
                    Rename
                  </button>
                  {x.lifecycle_stage === 'deleted' ? (
                    <button class="link" onClick={() => act(api.restoreExperiment(x.experiment_id))}>
                      Restore
                    </button>
                  ) : (
                    <button class="link danger" onClick={() => confirm(`Delete experiment “${x.name}”?`) && act(api.deleteExperiment(x.experiment_id))}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {token && (
        <button class="more" onClick={more}>
          Load more
        </button>
      )}
    </div>
  );
}

/** A row's run count: active runs (all of them for a deleted experiment, whose runs were
 * deleted with it); deleted runs in the tooltip. */
function RunCount({ exp, counts }) {
  const c = counts?.[exp.experiment_id];
  if (counts === undefined) return <span data-testid="exp-run-count" data-count="" class="muted">…</span>;
  if (!c) return <span data-testid="exp-run-count" data-count="?" class="muted">?</span>;
  const deleted = exp.lifecycle_stage === 'deleted';
  const n = deleted ? c.total : c.active;
  const title = deleted ? `${c.total} runs, deleted with the experiment` : c.total > c.active ? `${c.active} active, ${c.total - c.active} deleted` : `${c.active} runs`;
  return (
    <span data-testid="exp-run-count" data-count={String(n)} data-total={String(c.total)} title={title} class={n === 0 ? 'muted' : ''}>
      {n.toLocaleString('en-US')}
    </span>
  );
}

const note = (x) => (x.tags || []).find((t) => t.key === 'mlflow.note.content')?.value || '';
/** The first line of a Markdown note as plain text, for a one-line cell. */
const plain = (md) =>
  (md.split('\n').find((l) => l.trim() && !l.startsWith('```')) || '')
    .replace(/^\s*(#+|>|[-*+]|\d+\.)\s+/, '')
    .replace(/[*_`]/g, '')
    .trim();

export function Seg({ value, onChange, options }) {
  return (
    <div class="seg">
      {options.map(([v, label]) => (
        <button key={v} class={v === value ? 'on' : ''} onClick={() => onChange(v)} type="button">
          {label}
        </button>
      ))}
    </div>
  );
}

export function RenameBox({ value, onDone }) {
  const [v, setV] = useState(value);
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        onDone(v.trim());
      }}
    >
      <input
        ref={(el) => el && !el.dataset.f && ((el.dataset.f = 1), el.focus(), el.select())}
        value={v}
        onInput={(e) => setV(e.target.value)}
        onKeyDown={(e) => e.key === 'Escape' && onDone(null)}
        onBlur={() => onDone(v.trim())}
        data-testid="rename-input"
      />
    </form>
  );
}
