// The experiment's Traces tab (MLflow's /experiments/<id>/traces): the traces the server
// has for the experiment, or an empty state.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { fmtTime, errText } from '../util.js';
import { ExperimentHead } from './experiment_head.jsx';

export function TracesPage({ expId }) {
  const [traces, setTraces] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.searchTraces([expId]).then(setTraces, (e) => (setTraces([]), setError(e)));
  }, [expId]);
  const tag = (t, k) => (t.tags || []).find((x) => x.key === k)?.value || (t.request_metadata || []).find((x) => x.key === k)?.value;
  return (
    <div class="page">
      <ExperimentHead expIds={[expId]} tab="traces" />
      {error && <div class="error">{errText(error)}</div>}
      {!traces ? (
        <div class="muted pad">Loading…</div>
      ) : traces.length === 0 ? (
        <div class="empty" data-testid="no-traces">
          <b>No traces recorded in this experiment.</b>
          <p class="muted">
            Traces of GenAI apps and agents logged with <code>@mlflow.trace</code> or autologging (<code>mlflow.openai.autolog()</code>…) appear here.
          </p>
        </div>
      ) : (
        <table class="tbl" data-testid="traces">
          <thead>
            <tr>
              <th>Trace</th>
              <th>Name</th>
              <th>Status</th>
              <th class="nowrap">Time</th>
              <th class="num">Duration</th>
            </tr>
          </thead>
          <tbody>
            {traces.map((t) => (
              <tr key={t.request_id}>
                <td class="mono">{t.request_id}</td>
                <td>{tag(t, 'mlflow.traceName') || ''}</td>
                <td>
                  <span class={'status s-' + (t.status === 'OK' ? 'FINISHED' : t.status === 'ERROR' ? 'FAILED' : 'RUNNING')}>{t.status}</span>
                </td>
                <td class="nowrap">{fmtTime(t.timestamp_ms)}</td>
                <td class="num">{t.execution_time_ms !== undefined ? t.execution_time_ms + ' ms' : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
