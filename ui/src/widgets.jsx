// Small editors shared by pages: a Markdown description and a tag table.
import { useState } from 'preact/hooks';
import { safeMarkdown } from './markdown.js';
import { errText } from './util.js';

/** A Markdown description with an edit box; onSave(text) returns a promise. */
export function DescriptionCard({ value, onSave, testid = 'description' }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(value || '');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="card">
      <h3>
        Description{' '}
        {!editing && (
          <button class="link" onClick={() => (setText(value || ''), setEditing(true))} data-testid={'edit-' + testid}>
            edit
          </button>
        )}
      </h3>
      {error && <div class="error">{errText(error)}</div>}
      {editing ? (
        <div>
          <textarea rows="8" class="full mono" value={text} onInput={(e) => setText(e.target.value)} data-testid={testid + '-input'} placeholder="Markdown: **bold**, `code`, lists, links…" />
          <div class="row">
            <button
              class="primary"
              disabled={busy}
              data-testid={'save-' + testid}
              onClick={() => {
                setBusy(true);
                onSave(text).then(
                  () => (setBusy(false), setEditing(false), setError(null)),
                  (e) => (setBusy(false), setError(e)),
                );
              }}
            >
              Save
            </button>
            <button onClick={() => setEditing(false)}>Cancel</button>
          </div>
        </div>
      ) : value ? (
        <div class="markdown" data-testid={testid} dangerouslySetInnerHTML={{ __html: safeMarkdown(value) }} />
      ) : (
        <p class="muted">No description.</p>
      )}
    </section>
  );
}

/** Tags with inline add, edit and delete; onSet(key, value) and onDelete(key) return promises. */
export function TagsCard({ tags, onSet, onDelete, testid = 'tags', hidePrefix = 'mlflow.' }) {
  const [k, setK] = useState('');
  const [v, setV] = useState('');
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null);
  const [ev, setEv] = useState('');
  const shown = (tags || []).filter((t) => !hidePrefix || !t.key.startsWith(hidePrefix)).sort((a, b) => a.key.localeCompare(b.key));
  const run = (p) => p.then(() => setError(null), setError);
  return (
    <section class="card">
      <h3>Tags ({shown.length})</h3>
      {error && <div class="error">{errText(error)}</div>}
      <table class="tbl compact" data-testid={testid}>
        <tbody>
          {shown.map((t) => (
            <tr key={t.key}>
              <td>{t.key}</td>
              <td class="mono">
                {editing === t.key ? (
                  <form
                    class="inline"
                    onSubmit={(e) => {
                      e.preventDefault();
                      setEditing(null);
                      if (ev !== t.value) run(onSet(t.key, ev));
                    }}
                  >
                    <input value={ev} onInput={(e) => setEv(e.target.value)} onKeyDown={(e) => e.key === 'Escape' && setEditing(null)} ref={(el) => el && el.focus()} />
                  </form>
                ) : (
                  <span class="editable" title="click to edit" onClick={() => (setEv(t.value), setEditing(t.key))}>
                    {t.value || <i class="muted">empty</i>}
                  </span>
                )}
              </td>
              <td class="actions">
                <button class="link danger" onClick={() => run(onDelete(t.key))} title="delete tag" data-testid="delete-tag">
                  ✕
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="inline add-tag"
        onSubmit={(e) => {
          e.preventDefault();
          if (!k.trim()) return;
          onSet(k.trim(), v).then(() => (setK(''), setV(''), setError(null)), setError);
        }}
      >
        <input placeholder="key" value={k} onInput={(e) => setK(e.target.value)} data-testid={testid + '-key'} />
        <input placeholder="value" value={v} onInput={(e) => setV(e.target.value)} data-testid={testid + '-value'} />
        <button type="submit">Add tag</button>
      </form>
    </section>
  );
}

/** A card listing key/value pairs (parameters, tags), with their count in the title. */
export function KeyValueCard({ title, rows, testid }) {
  return (
    <section class="card">
      <h3>
        {title} ({rows.length})
      </h3>
      <table class="tbl compact" data-testid={testid}>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <td>{r.key}</td>
              <td class="mono">{r.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
