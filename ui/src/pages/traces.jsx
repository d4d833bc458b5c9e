// The experiment's Traces tab (MLflow's /experiments/<id>/traces): a page of the
// experiment's traces from the v3 search, filtered with MLflow's trace filter language, and
// the trace view MLflow opens with ?selectedEvaluationId=<trace id> (the link the client
// prints): span tree (expanded lazily, so a trace of thousands of spans opens at once), a
// waterfall of the visible spans, the selected span's inputs, outputs, attributes and
// events, and the trace's assessments with a form to add feedback.
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from '../api.js';
import { fmtTime, errText } from '../util.js';
import { useQuery, setQuery } from '../router.js';
import { ExperimentHead } from './experiment_head.jsx';

const PAGE = 50;
const ROW_LIMIT = 500;

const ms = (d) => (d === undefined || d === null ? '' : typeof d === 'string' ? Math.round(parseFloat(d) * 1000) + ' ms' : d + ' ms');
const stateClass = (s) => 'status s-' + (s === 'OK' ? 'FINISHED' : s === 'ERROR' ? 'FAILED' : 'RUNNING');
const clip = (s, n = 80) => (s && s.length > n ? s.slice(0, n) + '…' : s || '');

export function TracesPage({ expId }) {
  const q = useQuery();
  const selected = q.get('selectedEvaluationId');
  // `?filter=` opens the list filtered (a run page links to its traces this way).
  const [draft, setDraft] = useState(() => q.get('filter') || '');
  const [filter, setFilter] = useState(() => q.get('filter') || '');
  const [tokens, setTokens] = useState(['']);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const token = tokens[tokens.length - 1];
  useEffect(() => {
    setError(null);
    api.searchTraces([expId], { filter, pageToken: token, maxResults: PAGE }).then(
      (r) => setPage({ traces: r.traces || [], next: r.next_page_token }),
      (e) => (setPage({ traces: [] }), setError(e)),
    );
  }, [expId, filter, token]);
  const search = (e) => {
    e.preventDefault();
    setTokens(['']);
    setFilter(draft.trim());
  };
  return (
    <div class="page">
      <ExperimentHead expIds={[expId]} tab="traces" />
      <form class="row pad" onSubmit={search}>
        <input
          data-testid="trace-filter"
          class="grow mono"
          placeholder="tags.team = 'qa' AND trace.status = 'OK'"
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button type="submit">Search</button>
      </form>
      {error && (
        <div class="error" data-testid="trace-error">
          {errText(error)}
        </div>
      )}
      {!page ? (
        <div class="muted pad">Loading…</div>
      ) : page.traces.length === 0 && !filter && tokens.length === 1 && !error ? (
        <div class="empty" data-testid="no-traces">
          <b>No traces recorded in this experiment.</b>
          <p class="muted">
            Traces of GenAI apps and agents logged with <code>@mlflow.trace</code> or autologging (<code>mlflow.openai.autolog()</code>…) appear here.
          </p>
        </div>
      ) : (
        <>
          <table class="tbl" data-testid="traces">
            <thead>
              <tr>
                <th>Trace</th>
                <th>Name</th>
                <th>Request</th>
                <th>Response</th>
                <th>Status</th>
                <th class="nowrap">Time</th>
                <th class="num">Duration</th>
                <th>Tags</th>
                <th>Assessments</th>
              </tr>
            </thead>
            <tbody>
              {page.traces.map((t) => (
                <tr key={t.trace_id} data-testid="trace-row">
                  <td class="mono">
                    <a href="#" onClick={(e) => (e.preventDefault(), setQuery({ selectedEvaluationId: t.trace_id }))}>
                      {t.trace_id}
                    </a>
                  </td>
                  <td>{(t.tags || {})['mlflow.traceName'] || ''}</td>
                  <td class="mono">{clip(t.request_preview)}</td>
                  <td class="mono">{clip(t.response_preview)}</td>
                  <td>
                    <span class={stateClass(t.state)}>{t.state}</span>
                  </td>
                  <td class="nowrap">{t.request_time ? fmtTime(Date.parse(t.request_time)) : ''}</td>
                  <td class="num">{ms(t.execution_duration)}</td>
                  <td>
                    {Object.entries(t.tags || {})
                      .filter(([k]) => !k.startsWith('mlflow.'))
                      .map(([k, v]) => (
                        <span class="chip" key={k}>
                          {k}={clip(v, 30)}
                        </span>
                      ))}
                  </td>
                  <td>
                    {(t.assessments || []).map((a) => (
                      <span class="chip" key={a.assessment_id}>
                        {a.assessment_name}={clip(JSON.stringify((a.feedback || a.expectation || {}).value), 20)}
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="row pad">
            <button data-testid="traces-prev" disabled={tokens.length === 1} onClick={() => setTokens(tokens.slice(0, -1))}>
              Previous
            </button>
            <span class="muted">Page {tokens.length}</span>
            <button data-testid="traces-next" disabled={!page.next} onClick={() => setTokens([...tokens, page.next])}>
              Next
            </button>
          </div>
        </>
      )}
      {selected && <TraceView traceId={selected} onClose={() => setQuery({ selectedEvaluationId: null })} />}
    </div>
  );
}

/** Decodes an OTLP JSON `AnyValue`. */
function anyValue(v) {
  if (!v) return null;
  if ('string_value' in v) return v.string_value;
  if ('int_value' in v) return Number(v.int_value);
  if ('double_value' in v) return v.double_value;
  if ('bool_value' in v) return v.bool_value;
  if ('array_value' in v) return (v.array_value.values || []).map(anyValue);
  if ('kvlist_value' in v) return Object.fromEntries((v.kvlist_value.values || []).map((kv) => [kv.key, anyValue(kv.value)]));
  return null;
}

/** MLflow stores span attributes as JSON text; shows them parsed where they are. */
function attr(span, key) {
  const raw = span.attrs[key];
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function prepare(trace) {
  const spans = (trace.spans || trace.data?.spans || []).map((s) => ({
    id: s.span_id,
    parent: s.parent_span_id || null,
    name: s.name,
    start: Number(s.start_time_unix_nano || 0),
    end: Number(s.end_time_unix_nano || s.start_time_unix_nano || 0),
    status: s.status?.code || '',
    attrs: Object.fromEntries((s.attributes || []).map((kv) => [kv.key, anyValue(kv.value)])),
    events: (s.events || []).map((e) => ({ name: e.name, attrs: Object.fromEntries((e.attributes || []).map((kv) => [kv.key, anyValue(kv.value)])) })),
  }));
  const ids = new Set(spans.map((s) => s.id));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent && ids.has(s.parent)) {
      if (!children.has(s.parent)) children.set(s.parent, []);
      children.get(s.parent).push(s);
    } else roots.push(s);
  }
  for (const list of children.values()) list.sort((a, b) => a.start - b.start);
  const t0 = Math.min(...spans.map((s) => s.start));
  const t1 = Math.max(...spans.map((s) => s.end));
  return { spans, children, roots, t0, t1: t1 > t0 ? t1 : t0 + 1 };
}

function TraceView({ traceId, onClose }) {
  const [trace, setTrace] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(() => new Set());
  const [sel, setSel] = useState(null);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    api.getTrace(traceId).then(setTrace, setError);
  }, [traceId, reload]);
  const tree = useMemo(() => (trace ? prepare(trace) : null), [trace]);
  // The visible rows: roots, and the children of expanded spans (lazily: nothing below a
  // collapsed span is walked).
  const rows = useMemo(() => {
    if (!tree) return [];
    const out = [];
    const walk = (s, depth) => {
      if (out.length >= ROW_LIMIT) return;
      const kids = tree.children.get(s.id) || [];
      out.push({ s, depth, kids: kids.length });
      if (open.has(s.id) || depth === 0) for (const k of kids) walk(k, depth + 1);
    };
    for (const r of tree.roots) walk(r, 0);
    return out;
  }, [tree, open]);
  const toggle = (id) => {
    const n = new Set(open);
    n.has(id) ? n.delete(id) : n.add(id);
    setOpen(n);
  };
  const span = sel && tree ? tree.spans.find((s) => s.id === sel) : tree?.roots[0];
  return (
    <div class="card pad trace-drawer" data-testid="trace-view" role="dialog" aria-label={'Trace ' + traceId} onKeyDown={(e) => e.key === 'Escape' && onClose()} tabIndex={-1}>
      <div class="row">
        <b class="mono grow">{traceId}</b>
        <button onClick={onClose}>Close</button>
      </div>
      {error && <div class="error">{errText(error)}</div>}
      {!tree ? (
        !error && <div class="muted">Loading…</div>
      ) : (
        <div class="row" style="align-items:flex-start;gap:12px">
          <div style="flex:1 1 55%;min-width:0">
            <div class="muted" data-testid="span-count">
              {tree.spans.length} spans
            </div>
            <table class="tbl" data-testid="span-tree">
              <tbody>
                {rows.map(({ s, depth, kids }) => {
                  const left = ((s.start - tree.t0) / (tree.t1 - tree.t0)) * 100;
                  const width = Math.max(0.5, ((s.end - s.start) / (tree.t1 - tree.t0)) * 100);
                  return (
                    <tr key={s.id} data-testid="span-row" class={span && span.id === s.id ? 'sel' : ''} onClick={() => setSel(s.id)}>
                      <td class="nowrap" style={`padding-left:${8 + depth * 14}px`}>
                        {kids > 0 && depth > 0 ? (
                          <a href="#" data-testid="span-toggle" onClick={(e) => (e.preventDefault(), e.stopPropagation(), toggle(s.id))}>
                            {open.has(s.id) ? '▾' : '▸'}
                          </a>
                        ) : (
                          <span> </span>
                        )}{' '}
                        <span data-testid="span-name">{s.name}</span>
                        {s.status === 'STATUS_CODE_ERROR' && <span class="status s-FAILED"> error</span>}
                      </td>
                      <td style="width:45%">
                        <div class="waterfall" style="position:relative;height:10px;background:#f1f5f9">
                          <div
                            style={`position:absolute;left:${left}%;width:${width}%;height:10px;background:${s.status === 'STATUS_CODE_ERROR' ? '#dc2626' : '#2563eb'}`}
                            title={((s.end - s.start) / 1e6).toFixed(1) + ' ms'}
                          />
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {rows.length >= ROW_LIMIT && <div class="muted">First {ROW_LIMIT} rows shown; collapse spans to see others.</div>}
          </div>
          <div style="flex:1 1 45%;min-width:0">
            {span && <SpanDetail span={span} />}
            <Assessments info={trace.trace_info} onAdded={() => setReload(reload + 1)} />
          </div>
        </div>
      )}
    </div>
  );
}

function Json({ value }) {
  return <pre class="mono">{typeof value === 'string' ? value : JSON.stringify(value, null, 2)}</pre>;
}

function SpanDetail({ span }) {
  const plain = Object.entries(span.attrs).filter(([k]) => k !== 'mlflow.spanInputs' && k !== 'mlflow.spanOutputs');
  return (
    <div data-testid="span-detail">
      <h3>{span.name}</h3>
      <h4>Inputs</h4>
      <Json value={attr(span, 'mlflow.spanInputs') ?? null} />
      <h4>Outputs</h4>
      <Json value={attr(span, 'mlflow.spanOutputs') ?? null} />
      <h4>Attributes</h4>
      <table class="tbl" data-testid="span-attributes">
        <tbody>
          {plain.map(([k, v]) => (
            <tr key={k}>
              <td class="mono">{k}</td>
              <td class="mono">{typeof v === 'string' ? v : JSON.stringify(v)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {span.events.length > 0 && (
        <>
          <h4>Events</h4>
          {span.events.map((e, i) => (
            <div key={i} data-testid="span-event" class={e.name === 'exception' ? 'error' : ''}>
              <b>{e.name}</b>
              {Object.entries(e.attrs).map(([k, v]) => (
                <div key={k} class="mono">
                  {k}: {typeof v === 'string' ? v : JSON.stringify(v)}
                </div>
              ))}
            </div>
          ))}
        </>
      )}
    </div>
  );
}

function Assessments({ info, onAdded }) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [error, setError] = useState(null);
  const add = (e) => {
    e.preventDefault();
    let v = value;
    try {
      v = JSON.parse(value);
    } catch {
      /* a plain string */
    }
    api.logFeedback(info.trace_id, name, v).then(() => (setName(''), setValue(''), setError(null), onAdded()), setError);
  };
  return (
    <div data-testid="assessments">
      <h4>Assessments</h4>
      <table class="tbl">
        <tbody>
          {(info.assessments || []).map((a) => (
            <tr key={a.assessment_id} data-testid="assessment">
              <td>{a.assessment_name}</td>
              <td class="mono">{JSON.stringify((a.feedback || a.expectation || {}).value)}</td>
              <td class="muted">{a.source?.source_type}</td>
              <td class="muted">{a.rationale || ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="row" onSubmit={add}>
        <input data-testid="feedback-name" placeholder="name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <input data-testid="feedback-value" placeholder="value (JSON or text)" value={value} onInput={(e) => setValue(e.currentTarget.value)} required />
        <button type="submit">Add feedback</button>
      </form>
      {error && <div class="error">{errText(error)}</div>}
    </div>
  );
}
